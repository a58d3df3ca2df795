// Fallback for unknown paths, and the "not allowed" view for admin pages.

import { h, icon } from '../ui.js';

function view(main, { title, text, testid }) {
  main.replaceChildren(
    h(
      'div',
      { class: 'page page-narrow center-page', testid },
      h('div', { class: 'empty-icon big' }, icon(testid === 'forbidden' ? 'lock' : 'search')),
      h('h1', { tabindex: '-1' }, title),
      h('p', { class: 'muted' }, text),
      h('a', { href: '/', class: 'btn btn-primary' }, 'Go home'),
    ),
  );
}

export function forbidden(main, access = 'admin') {
  const who = access === 'moderator' ? 'moderators and administrators' : 'administrators';
  view(main, { title: 'You don\u2019t have access', text: `This area is for ${who} of this instance.`, testid: 'forbidden' });
}

export default {
  title: 'Page not found',
  access: 'any',
  render(main) {
    view(main, { title: 'Page not found', text: 'We couldn\u2019t find that page. It may have moved, or the link is mistyped.', testid: 'not-found' });
  },
};
