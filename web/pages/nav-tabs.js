// Tab strips shown at the top of the Settings and Admin pages.

import { tabs } from '../ui.js';

export const settingsTabs = (current) =>
  tabs(
    'Settings sections',
    [
      ['/settings/profile', 'Profile', 'user'],
      ['/settings/security', 'Security', 'shield'],
      ['/settings/tokens', 'API tokens', 'key'],
    ],
    current,
  );

export const adminTabs = (current) =>
  tabs(
    'Admin sections',
    [
      ['/admin/users', 'Users', 'community'],
      ['/admin/models', 'Models', 'cpu'],
      ['/admin/invites', 'Invites', 'ticket'],
      ['/admin/settings', 'Settings', 'sliders'],
      ['/admin/mail', 'Mail', 'mail'],
      ['/admin/audit', 'Audit log', 'list'],
      ['/moderation', 'Moderation', 'flag'],
    ],
    current,
  );
