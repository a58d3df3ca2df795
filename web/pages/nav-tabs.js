// Tab strips shown at the top of the Settings and Admin pages.

import { tabs } from '../ui.js';

export const settingsTabs = (current) =>
  tabs(
    'Settings sections',
    [
      ['/settings/profile', 'Profile', 'user'],
      ['/settings/security', 'Security', 'shield'],
      ['/settings/tokens', 'API tokens', 'key'],
      ['/settings/privacy', 'Privacy', 'lock'],
    ],
    current,
  );

export const adminTabs = (current) => {
  const strip = tabs(
    'Admin sections',
    [
      ['/admin/users', 'Users', 'community'],
      ['/admin/models', 'Models', 'cpu'],
      ['/admin/invites', 'Invites', 'ticket'],
      ['/admin/settings', 'Settings', 'sliders'],
      ['/admin/mail', 'Mail', 'mail'],
      ['/admin/audit', 'Audit log', 'list'],
      ['/admin/privacy', 'Privacy', 'lock'],
      ['/admin/analytics', 'Analytics', 'chart'],
      ['/moderation', 'Moderation', 'flag'],
    ],
    current,
  );
  strip.classList.add('tabs-many'); // nine tabs: a little tighter, so they fit beside the sidebar
  return strip;
};
