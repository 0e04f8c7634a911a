// A real OpenID provider for tests/core/test_oidc_provider.py, on loopback only:
// `node provider.mjs PORT`. One client, `muster-bot` (secret in OIDC_CLIENT_SECRET),
// gets access tokens by the client-credentials grant: JWTs for the audience `muster`,
// naming the client as `preferred_username`, signed with the provider's own keys.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const scopes = 'incidents:read incidents:write';

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'muster-bot',
      client_secret: process.env.OIDC_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: scopes,
    },
  ],
  scopes: scopes.split(' '),
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:muster',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ audience: 'muster', scope: scopes, accessTokenFormat: 'jwt' }),
    },
  },
  extraTokenClaims: (_ctx, token) => ({ preferred_username: token.clientId }),
});

provider.listen(port, '127.0.0.1', () => console.log(`listening on ${issuer}`));
