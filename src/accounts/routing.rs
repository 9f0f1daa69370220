//! Every route declares who may call it. Features list their routes on a [`Router`], which registers them
//! with the access check wrapped around each, and keeps the list so tests can walk every route.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder};

use super::model::Role;
use super::session::{identity_of_service, is_api};
use crate::db::Db;
use crate::settings::SiteCache;
use crate::web::AppError;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Anyone signed in (fully: second factor done).
    SignedIn,
    /// Signed in with at least one of these roles.
    Roles(&'static [Role]),
}

/// One route as declared.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Collects a feature's routes. Methods on the same path share one actix resource, so an unknown method on a
/// known path answers 405 rather than falling through.
#[derive(Default)]
pub struct Router {
    resources: Vec<(&'static str, actix_web::Resource)>,
    specs: Vec<RouteSpec>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route<F, Args>(&mut self, method: Method, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        // `csrf::protect` checks exactly the methods that change state; a route with another method would pass
        // unchecked, so none can be declared.
        assert!(
            matches!(method, Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::PATCH | Method::DELETE),
            "{method} {path}: routes take GET, HEAD, POST, PUT, PATCH or DELETE only"
        );
        self.specs.push(RouteSpec { method: method.clone(), path, access });
        let route = web::method(method).to(handler).wrap(from_fn(move |req, next| enforce(access, req, next)));
        match self.resources.iter().position(|(p, _)| *p == path) {
            Some(i) => {
                let (p, resource) = self.resources.remove(i);
                self.resources.insert(i, (p, resource.route(route)));
            }
            None => self.resources.push((path, web::resource(path).route(route))),
        }
        self
    }

    pub fn get<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, path, access, handler)
    }

    pub fn post<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, path, access, handler)
    }

    pub fn put<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PUT, path, access, handler)
    }

    pub fn patch<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::PATCH, path, access, handler)
    }

    pub fn delete<F, Args>(&mut self, path: &'static str, access: Access, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::DELETE, path, access, handler)
    }

    /// Every route declared so far.
    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// Hands the routes to actix.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for (_, resource) in self.resources {
            cfg.service(resource);
        }
    }
}

/// Routes open while a signed-in person must still enrol a second factor.
const ENROLMENT_PATHS: &[&str] = &["/account/two-factor", "/account/two-factor/confirm", "/sign-out"];

async fn enforce(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if access == Access::Public {
        return next.call(req).await;
    }
    let identity = match identity_of_service(&req).await {
        Ok(identity) => identity,
        Err(e) => return Ok(req.error_response(e)),
    };
    let api = is_api(req.path());
    let identity = match identity {
        Some(id) if !id.awaiting_second_factor() => id,
        Some(_) if !api => return Ok(redirect(req, "/sign-in/two-factor".into())),
        _ if api => return Ok(req.error_response(AppError::Unauthenticated)),
        _ => {
            let next_path = match req.query_string() {
                "" => req.path().to_string(),
                q => format!("{}?{q}", req.path()),
            };
            let location = format!("/sign-in?next={}", crate::web::url_encode(&next_path));
            return Ok(redirect(req, location));
        }
    };
    if identity.read_only() && !matches!(*req.method(), Method::GET | Method::HEAD) {
        // A read-only token reads; whatever its owner's roles, it changes nothing.
        return Ok(req.error_response(AppError::Forbidden));
    }
    if !api && !ENROLMENT_PATHS.contains(&req.path()) {
        match must_enrol_second_factor(&req, &identity).await {
            Ok(true) => return Ok(redirect(req, "/account/two-factor".into())),
            Ok(false) => {}
            Err(e) => return Ok(req.error_response(e)),
        }
    }
    match access {
        Access::Roles(roles) if !identity.has_any(roles) => Ok(req.error_response(AppError::Forbidden)),
        _ => next.call(req).await,
    }
}

/// The foundation asks treasurers and admins to use a second factor, and this person has none yet.
async fn must_enrol_second_factor(req: &ServiceRequest, identity: &super::model::Identity) -> Result<bool, AppError> {
    if identity.has_two_factor || !identity.has_any(super::TWO_FACTOR_ROLES) {
        return Ok(false);
    }
    let (Some(site), Some(db)) = (req.app_data::<web::Data<SiteCache>>(), req.app_data::<web::Data<Db>>()) else {
        return Ok(false);
    };
    Ok(site.get(db).await?.require_two_factor)
}

fn redirect(req: ServiceRequest, location: String) -> ServiceResponse<BoxBody> {
    req.into_response(HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish())
}
