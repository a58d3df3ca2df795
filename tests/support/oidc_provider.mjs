// A real OpenID provider for the tests: the `oidc-provider` package on 127.0.0.1.
//
//   node tests/support/oidc_provider.mjs PORT_FILE REDIRECT_URI
//
// Binds a free port, writes it to PORT_FILE, and serves one confidential client
// (`stratamake-test` / `test-secret`) that must use PKCE. Its development sign-in pages
// accept any login; the account's email is `<login>@idp.example.org` (verified).
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const [portFile, redirectUri] = process.argv.slice(2);

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'stratamake-test',
      client_secret: 'test-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    cookies: { keys: ['stratamake-test-cookie-key'] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: `${id}@idp.example.org`,
            email_verified: true,
            name: id,
            preferred_username: id,
          };
        },
      };
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider error', err));
  server.on('request', provider.callback());
  fs.writeFileSync(portFile, String(port));
});
