// End-to-end test of the community (/community, /p/{id}, /u/{username}, /notifications,
// /search and the server-rendered public page) in a real Chromium, with two people.
//
//   node --test tests/browser/community.test.mjs
//
// Environment (same as spine.test.mjs; set by the harness, which starts the server and an SMTP sink):
//   STRATAMAKE_URL   base URL of the running server, e.g. http://127.0.0.1:8080   (test is SKIPPED if unset)
//   MAIL_DIR         directory where the SMTP sink writes each received mail as *.eml (raw RFC 5322)
//   CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   SCREENSHOT_DIR   if set, a PNG of every visited page is saved there (prefixed "community-")
//
// Flow: A and B sign up and verify -> A uploads a picture (drawn on a canvas in the page),
// opens it in the library and shares it with "Share to community" (title, description,
// tag, public) -> the post page -> B opens A's profile and follows A -> B's Following feed
// shows the post -> B comments with an @mention of A and reacts with "love" -> A's bell
// counts the new notifications, the notifications page lists the follow, the comment and
// the reaction and clears the bell -> B finds the post on the search page by a misspelled
// word -> with JavaScript disabled, /p/{id} (rendered by the server) shows the title and
// has og:title and og:image. Phone width and dark mode screenshots on the way.
// The test also fails on any uncaught page error, any CSP violation and any 404 for a UI asset.
//
// ---------------------------------------------------------------------------
// Stable data-testid hooks for the community (keep in sync with web/pages/community*.js,
// post.js, profile.js, notifications.js, search.js, moderation.js, asset.js and web/app.js):
//
// Shell        nav-community (sidebar link; a top-bar link for visitors), nav-notifications
//              (the bell), notifications-badge (its unread count), nav-moderation,
//              menu-public-profile (user menu)
// Feed         community-page, community-search(-form), feed-tabs, feed-{following,latest,trending},
//              feed-grid / post-grid / profile-posts-grid (<ul> of cards), post-card
//              (data-post-id, data-kind), post-card-link, feed-empty, feed-empty-latest, tag-page
// Share/edit   asset-share (asset page), post-dialog, post-form, post-form-{title,description},
//              post-form-tags, post-form-tag-input, post-form-tag, post-form-visibility-{public,
//              unlisted,followers} (radios), post-form-remix, post-form-submit
// Post page    post-view, post-image, post-viewer, post-open-original, post-title, post-author,
//              post-follow, post-visibility, post-moderation, post-description, post-tags, post-tag,
//              post-reactions (and post-reactions-{like,love,wow,fire,laugh}: aria-pressed,
//              data-count), post-copy-link, post-edit, post-delete, post-report, post-model,
//              post-generation, post-params, post-use-prompt (-> /generate?post={id}), post-not-found
// Comments     comments, comments-count, comment-composer(-input|-submit), comments-signin,
//              comment-list, comment (data-comment-id; id="comment-{id}"), comment-author,
//              comment-body, comment-reply, reply-composer(-input|-submit), comment-menu,
//              comment-edit, comment-edit-composer(-input|-submit), comment-delete,
//              comment-report, comment-reactions(-add|-pick-{kind}|-{kind}), comments-more,
//              comments-empty
// Dialogs      signin-prompt, signin-prompt-login, report-dialog, report-form,
//              report-reason-{spam,…}, report-details, report-submit, followers-dialog,
//              following-dialog, person-row
// Profile      profile-page, profile-hero, profile-name, profile-username, profile-bio,
//              profile-follows-you, profile-follow (aria-pressed), profile-edit, profile-menu,
//              profile-report, profile-block, profile-posts, profile-followers(-button),
//              profile-following(-button), profile-empty, profile-not-found
// Notifications notifications-page, notification-list, notification (data-kind, data-id),
//              notification-text, notifications-mark-all, notifications-summary, notifications-more
// Search       search-page, search-form, search-input, search-type-{posts,users,tags},
//              search-kind-{all,image,model}, search-sort, search-total, search-results,
//              search-result (data-post-id | data-username | data-tag), search-result-link,
//              search-empty, search-unavailable
// Moderation   moderation-page, reports-filter-{open,resolved,dismissed,all}, report-list,
//              report (data-report-id, data-status), report-state, report-open-count,
//              report-target-link, report-note, report-{dismiss,hide,remove,restore,suspend}
// Settings     notify-community, notify-community-{off,instant,daily}, blocked-card,
//              blocked-list, blocked-person, unblock, profile-public-link
// Shared       confirm-ok / confirm-cancel, toast
// ---------------------------------------------------------------------------

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, MAIL_DIR, CHROMIUM, LAUNCH_ARGS, screenshotter, watch, pathIs, signIn, signUpAndVerify } from './support.mjs';

const shot = screenshotter('community-'); // community-NN-name.png

/** Uploads a picture drawn on a canvas in the page; returns its asset id. */
async function uploadPicture(page) {
  return page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 320;
    c.height = 240;
    const g = c.getContext('2d');
    const sky = g.createLinearGradient(0, 0, 0, 240);
    sky.addColorStop(0, '#2b1055');
    sky.addColorStop(1, '#ff9f5a');
    g.fillStyle = sky;
    g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#1a0b3a';
    g.fillRect(0, 170, 320, 70);
    g.fillStyle = '#f5f5f5';
    g.fillRect(200, 80, 18, 90);
    g.fillStyle = '#ffd166';
    g.fillRect(196, 70, 26, 14);
    const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
    const form = new FormData();
    form.append('file', blob, 'lighthouse.png');
    const csrf = (document.cookie.match(/(?:^|;\s*)(?:__Host-)?sm_csrf=([^;]+)/) || [])[1];
    const res = await fetch('/api/v1/assets', { method: 'POST', body: form, credentials: 'same-origin', headers: csrf ? { 'X-CSRF-Token': csrf } : {} });
    if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    return (await res.json()).items[0].id;
  });
}

/** The number in the bell (0 when it is hidden). */
async function bellCount(page) {
  const badge = page.getByTestId('notifications-badge');
  if (!(await badge.isVisible())) return 0;
  return Number((await badge.innerText()).replace(/\D/g, '')) || 0;
}

test(
  'community: share a post, follow, comment with a mention, react, get notified, search, public page',
  { skip: BASE ? false : 'STRATAMAKE_URL is not set (the harness starts the server and sets it)', timeout: 420_000 },
  async (t) => {
    assert.ok(MAIL_DIR, 'MAIL_DIR must point at the directory where the SMTP sink writes *.eml files');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    t.after(() => browser.close());

    const problems = [];
    const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const people = ['a', 'b'].map((who) => {
      const username = `co${who}_${stamp}`.slice(0, 30);
      return { username, email: `${username}@example.test`, password: `Strata-${stamp}-Community-${who}!` };
    });
    const [A, B] = people;
    // A distinctive word for search; B looks for it misspelled.
    const title = `Kaleidoscope lighthouse ${stamp}`;
    const misspelled = 'kaleidoscpe';

    const ctxA = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
    const ctxB = await browser.newContext({ baseURL: BASE, viewport: { width: 1280, height: 900 } });
    ctxA.setDefaultTimeout(20_000);
    ctxB.setDefaultTimeout(20_000);
    const pageA = await ctxA.newPage();
    const pageB = await ctxB.newPage();
    watch(pageA, 'community A', problems);
    watch(pageB, 'community B', problems);

    try {
      // 1. Two verified accounts ----------------------------------------------------
      await signUpAndVerify(pageA, A);
      await signIn(pageA, A.username, A.password);
      await signUpAndVerify(pageB, B);
      await signIn(pageB, B.username, B.password);

      // The sidebar leads to the community; a new account's feed starts at Latest.
      await pageB.getByTestId('nav-community').click();
      await pageB.waitForURL(pathIs('/community'));
      await pageB.getByTestId('community-page').waitFor();
      assert.equal(await pageB.locator('[data-testid="feed-latest"][aria-current="page"]').count(), 1, 'someone who follows nobody starts on Latest');

      // 2. A shares an uploaded picture -----------------------------------------------
      const assetId = await uploadPicture(pageA);
      await pageA.goto(`/library/${assetId}`);
      await pageA.getByTestId('asset-share').click();
      const dialog = pageA.getByTestId('post-dialog');
      await dialog.waitFor();
      assert.equal(await pageA.locator('[data-testid="post-form-visibility-public"]').isChecked(), true, 'posts are public unless chosen otherwise');
      assert.equal(await pageA.getByTestId('post-form-remix').count(), 0, 'an uploaded picture has no prompt to share');
      await pageA.getByTestId('post-form-title').fill(title);
      await pageA.getByTestId('post-form-description').fill('A **test** post: the light turns all night.');
      await pageA.getByTestId('post-form-tag-input').fill('lighthouse');
      await pageA.keyboard.press('Enter');
      await shot(pageA, 'share-dialog');
      await pageA.getByTestId('post-form-submit').click();
      await pageA.waitForURL(/\/p\/[^/]+$/);
      const postId = decodeURIComponent(new URL(pageA.url()).pathname.split('/').pop());
      await pageA.locator('[data-testid="post-title"]', { hasText: title }).waitFor();
      assert.equal(await pageA.locator('[data-testid="post-description"] strong', { hasText: 'test' }).count(), 1, 'the description is rendered from Markdown');
      assert.equal(await pageA.locator('[data-testid="post-tag"][href="/community?tag=lighthouse"]').count(), 1, 'tags link to their listing');
      assert.equal(await pageA.getByTestId('post-edit').count(), 1, 'the author can edit the post');
      await pageA.locator('[data-testid="post-image"]').evaluate((img) => (img.complete ? null : new Promise((r) => img.addEventListener('load', r, { once: true }))));
      await shot(pageA, 'post-author');

      // 3. B follows A from A's profile -----------------------------------------------
      await pageB.goto(`/u/${A.username}`);
      await pageB.getByTestId('profile-hero').waitFor();
      assert.equal(await pageB.getByTestId('profile-username').innerText(), `@${A.username}`);
      const follow = pageB.getByTestId('profile-follow');
      assert.equal(await follow.getAttribute('aria-pressed'), 'false');
      await follow.click();
      await pageB.locator('[data-testid="profile-follow"][aria-pressed="true"]').waitFor();
      await pageB.locator('[data-testid="profile-followers"]', { hasText: '1' }).waitFor();
      await pageB.locator(`[data-testid="profile-posts-grid"] [data-testid="post-card"][data-post-id="${postId}"]`).waitFor();
      await shot(pageB, 'profile');

      // Following now leads the feed, with A's post in it.
      await pageB.goto('/community');
      await pageB.locator('[data-testid="feed-following"][aria-current="page"]').waitFor();
      await pageB.locator(`[data-testid="feed-grid"] [data-testid="post-card"][data-post-id="${postId}"]`).waitFor();
      await shot(pageB, 'feed-following');

      // 4. B comments with a mention and reacts ----------------------------------------
      await pageB.locator(`[data-testid="post-card"][data-post-id="${postId}"] [data-testid="post-card-link"]`).click();
      await pageB.waitForURL(pathIs(`/p/${postId}`));
      await pageB.getByTestId('comments').waitFor();
      await pageB.locator('[data-testid="comments-empty"], [data-testid="comment"]').first().waitFor();
      await pageB.getByTestId('comment-composer-input').fill(`What a view, @${A.username}! How long did it take?`);
      await pageB.getByTestId('comment-composer-submit').click();
      const comment = pageB.locator('[data-testid="comment"]', { hasText: 'What a view' });
      await comment.waitFor();
      assert.equal(await comment.locator(`[data-testid="comment-body"] a[href="/u/${A.username}"]`).count(), 1, 'the @mention links to the profile');
      await pageB.locator('[data-testid="comments-count"]', { hasText: '1' }).waitFor();

      const love = pageB.getByTestId('post-reactions-love');
      assert.equal(await love.getAttribute('aria-pressed'), 'false');
      await Promise.all([pageB.waitForResponse((r) => r.url().endsWith(`/posts/${postId}/reactions`) && r.request().method() === 'POST'), love.click()]);
      await pageB.locator('[data-testid="post-reactions"][aria-busy="false"] [data-testid="post-reactions-love"][aria-pressed="true"][data-count="1"]').waitFor();
      await shot(pageB, 'post-commented');
      // The reaction is saved: a reload shows it again.
      await pageB.reload();
      await pageB.locator('[data-testid="post-reactions-love"][aria-pressed="true"][data-count="1"]').waitFor();

      // 5. A is notified ---------------------------------------------------------------
      await pageA.goto('/community');
      await pageA.getByTestId('community-page').waitFor();
      await pageA.getByTestId('notifications-badge').waitFor({ state: 'visible' });
      const unread = await bellCount(pageA);
      assert.ok(unread >= 3, `the bell counts the follow, the comment and the reaction (shows ${unread})`);
      await shot(pageA, 'bell');
      await pageA.getByTestId('nav-notifications').click();
      await pageA.waitForURL(pathIs('/notifications'));
      const items = pageA.getByTestId('notification');
      await items.first().waitFor();
      const kinds = await items.evaluateAll((els) => els.map((e) => e.dataset.kind));
      for (const kind of ['follow', 'comment', 'reaction']) assert.ok(kinds.includes(kind), `a ${kind} notification is listed (got ${kinds.join(', ')})`);
      const texts = (await pageA.getByTestId('notification-text').allInnerTexts()).join('\n');
      assert.match(texts, new RegExp(B.username), 'the notifications name who did it');
      assert.ok(texts.includes(title), 'the notifications name the post');
      assert.equal(await pageA.locator('[data-testid="notification"].is-unread').count() >= 3, true, 'new notifications are highlighted');
      await pageA.locator(`[data-testid="notification"][data-kind="comment"] a[href^="/p/${postId}"]`).first().waitFor();
      // Opening the page marked them read: the bell is clear.
      await pageA.getByTestId('notifications-badge').waitFor({ state: 'hidden' });
      await shot(pageA, 'notifications');

      // The comment link leads to the comment on the post.
      await pageA.locator('[data-testid="notification"][data-kind="comment"] a').first().click();
      await pageA.waitForURL(pathIs(`/p/${postId}`));
      await pageA.locator('[data-testid="comment"].is-target', { hasText: 'What a view' }).waitFor();

      // Phone width, dark mode.
      await pageA.setViewportSize({ width: 390, height: 844 });
      await pageA.emulateMedia({ colorScheme: 'dark' });
      await pageA.reload();
      await pageA.getByTestId('comment').first().waitFor();
      await shot(pageA, 'post-phone-dark');
      await pageA.setViewportSize({ width: 1280, height: 900 });
      await pageA.emulateMedia({ colorScheme: 'light' });

      // 6. B finds the post by a misspelled word ---------------------------------------
      await pageB.goto('/search');
      await pageB.getByTestId('search-input').fill(misspelled);
      const hit = pageB.locator(`[data-testid="search-result"][data-post-id="${postId}"]`);
      await pageB.locator('[data-testid="search-result"], [data-testid="search-empty"], [data-testid="search-unavailable"], [data-testid="load-error"]').first().waitFor();
      assert.equal(await pageB.getByTestId('search-unavailable').count(), 0, 'the search endpoint answers');
      assert.equal(await pageB.getByTestId('load-error').count(), 0, `the search succeeds (${await pageB.getByTestId('load-error').allInnerTexts()})`);
      await hit.waitFor();
      assert.equal(new URL(pageB.url()).searchParams.get('q'), misspelled, 'the address keeps the query');
      assert.ok((await hit.locator('mark').count()) > 0, 'the matched word is highlighted');
      await shot(pageB, 'search');
      await hit.getByTestId('search-result-link').click();
      await pageB.waitForURL(pathIs(`/p/${postId}`));

      // 7. The public page without JavaScript (rendered by the server) -----------------
      const ctxNoJs = await browser.newContext({ baseURL: BASE, javaScriptEnabled: false });
      const plain = await ctxNoJs.newPage();
      const res = await plain.goto(`/p/${postId}`);
      assert.equal(res.status(), 200);
      const html = await plain.content();
      assert.ok(new RegExp(`<h1[^>]*>\\s*${title}\\s*</h1>`).test(html), 'the server-rendered page shows the title');
      const meta = (prop) => (new RegExp(`<meta[^>]+property="${prop}"[^>]+content="([^"]*)"`).exec(html) || new RegExp(`<meta[^>]+content="([^"]*)"[^>]+property="${prop}"`).exec(html) || [])[1];
      assert.ok((meta('og:title') || '').includes(title), `og:title names the post (is ${meta('og:title')})`);
      const ogImage = meta('og:image');
      assert.ok(ogImage, 'og:image is set');
      const img = await plain.request.get(new URL(ogImage.replace(/&amp;/g, '&'), BASE).href);
      assert.equal(img.status(), 200, 'og:image can be fetched');
      await shot(plain, 'public-no-js');
      await ctxNoJs.close();
    } finally {
      await shot(pageA, 'final-a');
      await shot(pageB, 'final-b');
    }
    assert.deepEqual(problems, [], `problems seen in the browser:\n${problems.join('\n')}`);
  },
);
