/** authenticate, renewToken and the user profile. */
import type { Services } from '../services';
import { HttpError, userOf, type Handler } from '../http';

export function authHandlers(
  services: Services,
): Record<'authenticate' | 'renewToken' | 'getUserProfile', Handler> {
  // As the Authentication page shows it: no expiry field (the JWT's exp claim has it).
  const tokenReply = (username: string) => ({
    json: { username, token: services.tokens.issue(username) },
  });
  return {
    authenticate: (ctx) => {
      const { username, password } = ctx.body as { username: string; password: string };
      const user = services.users.authenticate(username, password);
      if (!user) throw new HttpError(401, 'Invalid username or password');
      return tokenReply(user.username);
    },
    renewToken: (ctx) => tokenReply(userOf(ctx).username),
    getUserProfile: (ctx) => {
      const user = userOf(ctx);
      return {
        json: {
          userName: user.username,
          email: user.email,
          roles: user.roles,
          permissions: [...user.permissions].sort(),
          token: ctx.token,
        },
      };
    },
  };
}
