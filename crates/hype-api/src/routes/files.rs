//! `/api/v1/vms/{name}/files`: files in a guest, streamed both ways (a
//! directory as a tar archive), and `/downloads`: what the sandbox's
//! browser downloaded. Paths are guest paths: nothing here touches the
//! host's files.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use hype_core::FileDownload;
use hype_types::{
    DownloadList, ErrorBody, ErrorKind, FileInfo, FileKind, FileList, PathQuery, RemoveQuery,
    UploadQuery, Uploaded,
};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::AppState;

fn invalid(why: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, "invalid_request", why)
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/files", tag = "guest",
    params(("name" = String, Path), PathQuery),
    responses((status = 400, description = "A query string that does not parse (no path, an unknown field)", body = ErrorBody),
        (status = 200, description = "The file's bytes (`application/octet-stream`), or a directory as a tar archive (`application/x-tar`)"),
        (status = 404, description = "No such VM, or no such file in the guest", body = ErrorBody),
        (status = 409, description = "The VM is not running, or has no guest agent", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 501, body = ErrorBody)))]
pub async fn download(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> Result<Response, ApiError> {
    let path = q.validate().map_err(invalid)?;
    Ok(streamed(s.hype.read_file(&name, path).await?))
}

#[utoipa::path(put, path = "/api/v1/vms/{name}/files", tag = "guest",
    params(("name" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file's bytes, or with `archive=true` a tar archive"),
    responses((status = 400, description = "A query string that does not parse (no path, an unknown field)", body = ErrorBody),
        (status = 201, body = Uploaded),
        (status = 404, description = "No such VM, or the directory is not there in the guest", body = ErrorBody),
        (status = 409, description = "A directory is where the file would go; the VM is not running", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 507, description = "The guest ran out of space (nothing is left of the upload)", body = ErrorBody)))]
pub async fn upload(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let spec = q.validate().map_err(invalid)?;
    let body = req.into_body().into_data_stream();
    let done = s.hype.write_file(&name, spec, body).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

#[utoipa::path(delete, path = "/api/v1/vms/{name}/files", tag = "guest",
    params(("name" = String, Path), RemoveQuery),
    responses((status = 400, description = "A query string that does not parse (no path, an unknown field)", body = ErrorBody),
        (status = 204, description = "Removed"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A directory that is not empty, without recursive=true", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn remove(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<RemoveQuery>,
) -> Result<StatusCode, ApiError> {
    q.validate().map_err(invalid)?;
    s.hype.file_remove(&name, &q.path, q.recursive).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/files/stat", tag = "guest",
    params(("name" = String, Path), PathQuery),
    responses((status = 400, description = "A query string that does not parse (no path, an unknown field)", body = ErrorBody),
        (status = 200, body = FileInfo), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn stat(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> Result<Json<FileInfo>, ApiError> {
    let path = q.validate().map_err(invalid)?;
    Ok(Json(s.hype.file_stat(&name, path).await?))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/files/list", tag = "guest",
    params(("name" = String, Path), PathQuery),
    responses((status = 400, description = "A query string that does not parse (no path, an unknown field)", body = ErrorBody),
        (status = 200, body = FileList), (status = 404, body = ErrorBody),
        (status = 409, description = "Not a directory; the VM is not running", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> Result<Json<FileList>, ApiError> {
    let path = q.validate().map_err(invalid)?;
    Ok(Json(s.hype.file_list(&name, path).await?))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/downloads", tag = "browser",
    params(("name" = String, Path)),
    responses((status = 200, body = DownloadList), (status = 404, body = ErrorBody)))]
pub async fn downloads(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DownloadList>, ApiError> {
    Ok(Json(DownloadList {
        downloads: s.hype.downloads(&name).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/vms/{name}/downloads/{file}", tag = "browser",
    params(("name" = String, Path), ("file" = String, Path, description = "A name from the list")),
    responses((status = 200, description = "The file's bytes"),
        (status = 404, description = "No such VM or downloaded file", body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn download_file(
    State(s): State<AppState>,
    Path((name, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(streamed(s.hype.download(&name, &file).await?))
}

/// A guest file's bytes as the response body, as the guest sends them.
fn streamed(found: FileDownload) -> Response {
    let (kind, file_name) = match found.entry.kind {
        FileKind::Directory => ("application/x-tar", format!("{}.tar", found.entry.name)),
        _ => ("application/octet-stream", found.entry.name.clone()),
    };
    let body = Body::from_stream(found.body.map(|r| r.map(bytes::Bytes::from)));
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // The name is the guest's: only a plain ASCII one goes in the header.
    let plain = file_name
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ');
    let disposition = if plain && !file_name.is_empty() {
        format!("attachment; filename=\"{file_name}\"")
    } else {
        "attachment".into()
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
