//! Accounts: people, roles, sign-in, sessions, two-factor sign-in, invitations, password resets and API
//! tokens; and who is signed in on each request, which every other feature's routes rely on.

pub mod api;
pub mod context;
pub mod csrf;
pub mod model;
pub mod pages;
pub mod password;
pub mod rate_limit;
pub mod routing;
pub mod service;
pub mod session;
pub mod tokens;
pub mod totp;

pub use context::{ApiUser, PageContext};
pub use model::{Identity, Role};
pub use routing::{Access, RouteSpec, Router};
pub use service::TWO_FACTOR_ROLES;

const ADMIN: Access = Access::Roles(&[Role::Admin]);

pub fn routes(r: &mut Router) {
    use Access::{Public, SignedIn};
    r.get("/sign-in", Public, pages::sign_in_form)
        .post("/sign-in", Public, pages::sign_in)
        .get("/sign-in/two-factor", Public, pages::second_factor_form)
        .post("/sign-in/two-factor", Public, pages::second_factor)
        .post("/sign-out", Public, pages::sign_out)
        .get("/password/forgot", Public, pages::forgot_form)
        .post("/password/forgot", Public, pages::forgot)
        .get("/password/reset/{token}", Public, pages::reset_form)
        .post("/password/reset/{token}", Public, pages::reset)
        .get("/invitation/{token}", Public, pages::invitation_form)
        .post("/invitation/{token}", Public, pages::accept_invitation)
        .get("/account", SignedIn, pages::account)
        .post("/account/password", SignedIn, pages::change_password)
        .post("/account/time-zone", SignedIn, pages::set_time_zone)
        .post("/account/sessions/sign-out-everywhere", SignedIn, pages::sign_out_everywhere)
        .get("/account/two-factor", SignedIn, pages::two_factor)
        .post("/account/two-factor/confirm", SignedIn, pages::confirm_two_factor)
        .post("/account/two-factor/disable", SignedIn, pages::disable_two_factor)
        .get("/account/tokens", SignedIn, pages::tokens)
        .post("/account/tokens", SignedIn, pages::create_token)
        .post("/account/tokens/{id}/revoke", SignedIn, pages::revoke_token)
        .get("/admin/users", ADMIN, pages::users)
        .get("/admin/users/invite", ADMIN, pages::invite_form)
        .post("/admin/users/invite", ADMIN, pages::invite)
        .get("/admin/users/{id}", ADMIN, pages::user)
        .post("/admin/users/{id}/roles", ADMIN, pages::set_roles)
        .post("/admin/users/{id}/disable", ADMIN, pages::disable_user)
        .post("/admin/users/{id}/enable", ADMIN, pages::enable_user)
        .post("/admin/users/{id}/resend-invitation", ADMIN, pages::resend_invitation)
        .get("/api/v1/me", SignedIn, api::me)
        .get("/api/v1/users", ADMIN, api::list_users)
        .post("/api/v1/users", ADMIN, api::invite)
        .get("/api/v1/users/{id}", ADMIN, api::get_user)
        .patch("/api/v1/users/{id}", ADMIN, api::update_user)
        .get("/api/v1/tokens", SignedIn, api::list_tokens)
        .post("/api/v1/tokens", SignedIn, api::create_token)
        .delete("/api/v1/tokens/{id}", SignedIn, api::revoke_token);
}
