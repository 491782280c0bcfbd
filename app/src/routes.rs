//! The API's dispatch: the route table of `shared::app_route` bound to its
//! handlers. A route's caller is checked here, once, before its handler runs:
//! nothing, a signed-in user, or an admin.

use shared::app_route::{self, PublicRoute, Resolved, Route, UserRoute};
use worker::{Env, Request, Response};

use crate::auth::{self, AuthUser};
use crate::error::{ApiError, ApiResult};
use crate::{accounts, admin, body, cutter, files, files_api, filters, health, lineage};

/// The answer to an API request, errors included.
pub async fn answer(mut req: Request, env: &Env) -> Response {
    let req = &mut req;
    let outcome = match app_route::resolve(req.method().as_ref(), &req.path()) {
        Resolved::Route(Route::Public(route)) => public(route, req, env).await,
        Resolved::Route(Route::User(route)) => match auth::authenticate(req, env).await {
            Ok(caller) => signed_in(route, caller, req, env).await,
            Err(refusal) => Err(refusal),
        },
        Resolved::Route(Route::Admin(route)) => match admin::authorize(req, env).await {
            Ok(caller) => admin::handle(route, caller, req, env).await,
            Err(refusal) => {
                // An import may be large: read it, so the client gets the refusal.
                body::drain(req).await;
                Err(refusal)
            }
        },
        Resolved::MethodNotAllowed(refusal) => {
            Err(ApiError::method_not_allowed(refusal, &req.method()))
        }
        Resolved::NotFound => Err(ApiError::Client(404, "Not found".into())),
    };
    outcome.unwrap_or_else(ApiError::into_response)
}

async fn public(route: PublicRoute, req: &mut Request, env: &Env) -> ApiResult {
    match route {
        PublicRoute::Health => Ok(health::report(env).await),
        PublicRoute::Register => accounts::register(req, env).await,
        PublicRoute::Login => accounts::login(req, env).await,
        PublicRoute::RefreshToken => accounts::refresh(req, env).await,
        PublicRoute::AdminLogin => accounts::admin_login(req, env).await,
        PublicRoute::CsvCutter => cutter::upload(req, env).await,
        PublicRoute::ExportCsv => cutter::export(req, env).await,
    }
}

async fn signed_in(route: UserRoute, caller: AuthUser, req: &mut Request, env: &Env) -> ApiResult {
    use UserRoute::*;
    let user = caller.user.id;
    match route {
        Logout => accounts::logout(req, env, caller).await,
        CurrentUser => accounts::current_user(&caller),
        Upload => files::upload(req, env, user).await,
        ListSavedFiles => files::list(env, user).await,
        SaveGeneratedFile => files::save_generated(req, env, user).await,
        Download(name) => files::download(env, user, &name).await,
        DeleteSavedFile(id) => files::delete(env, user, &id).await,
        UpdateTags(id) => files::update_tags(req, env, user, &id).await,
        FetchSavedFile(id) => files::fetch(env, user, &id).await,
        FileLineage(id) => lineage::fetch(env, user, &id).await,
        FilesUpload => files_api::upload(req, env, user).await,
        FilesList => files_api::list(req, env, user).await,
        FileGet(id) => files_api::one(env, user, &id).await,
        FileDelete(id) => files_api::delete(env, user, &id).await,
        FileDownload(id) => files_api::download(req, env, user, &id).await,
        FiltersList => filters::list(req, env, user).await,
        FilterCreate => filters::create(req, env, user).await,
        FilterGet(id) => filters::get(env, user, &id).await,
        FilterUpdate(id) => filters::update(req, env, user, &id).await,
        FilterDelete(id) => filters::delete(env, user, &id).await,
        FilterApply(id) => filters::apply(req, env, user, &id).await,
    }
}
