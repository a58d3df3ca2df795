// /account/deleted?on={unix time} — shown after someone deleted their own account on
// /settings/privacy: they are signed out, and the account is purged on that date
// unless they keep it with the mailed link (or by signing in with their password).

import { h, icon } from '../ui.js';
import { authLayout } from './auth-common.js';
import { dateEl } from './privacy-common.js';

export default {
  title: 'Account scheduled for deletion',
  access: 'any',
  render(main, { params }) {
    const on = Number(params.get('on'));
    const known = Number.isFinite(on) && on > 0;
    main.replaceChildren(
      authLayout(
        { title: known ? 'Your account will be deleted' : 'Your account is scheduled for deletion', testid: 'deletion-scheduled' },
        h(
          'div',
          { class: 'result', role: 'status' },
          known ? h('p', { class: 'deletion-date', testid: 'deletion-date', dataset: { purgeAfter: String(on) } }, icon('calendar'), h('span', {}, 'on ', dateEl(on))) : null,
          h('p', { class: 'muted' }, 'You are signed out everywhere, and nothing you shared is shown any more.'),
          h('p', { class: 'muted' }, 'We sent you a mail with a link that keeps your account until then. Signing in with your password offers the same.'),
          h('div', { class: 'result-actions' }, h('a', { href: '/', class: 'btn btn-secondary', testid: 'deletion-home' }, 'Go to the home page')),
        ),
      ),
    );
  },
};
