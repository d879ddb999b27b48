//! The OpenAPI document: its frame (info, tags, shared schemas) here, its
//! paths from the route table itself (`routes::api`), built once.

use std::sync::LazyLock;

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "hype", description = "Single-node microVM orchestrator for browser sandboxes. \
        `/mcp` (the Model Context Protocol over streamable HTTP, same auth) is not a REST route and is not described here."),
    components(schemas(
        hype_types::Vm, hype_types::VmList, hype_types::CreateVm, hype_types::VmState,
        hype_types::VmmInfo, hype_types::VmmKind, hype_types::VmmChoice,
        hype_types::Event, hype_types::EventType, hype_types::EventList,
        hype_types::ErrorBody, hype_types::ErrorDetail,
        hype_types::Image, hype_types::ImageList, hype_types::Firmware, hype_types::ImageDisk, hype_types::StorageBus, hype_types::NicModel, hype_types::VersionInfo,
        hype_types::ChVersions, hype_types::AccelInfo,
        hype_types::GuestNetwork, hype_types::GuestInterface, hype_types::ProbeRequest,
        hype_types::ProbeResult,
        hype_types::Job, hype_types::JobList, hype_types::JobSpec, hype_types::JobBatch,
        hype_types::VsphereJob, hype_types::XcpngJob, hype_types::OvfJob,
        hype_types::JobKind, hype_types::JobState, hype_types::JobSource, hype_types::JobProgress,
        hype_types::JobResume, hype_types::ResumedFile, hype_types::JobResult, hype_types::JobFile,
        hype_types::ResumeJob,
        hype_types::JobEvent, hype_types::JobEventType, hype_types::BootMode,
        hype_types::XcpngTransport,
        hype_types::Snapshot, hype_types::SnapshotList, hype_types::CreateSnapshot,
        hype_types::ForkVm, hype_types::ForkResult, hype_types::ForkFailure, hype_types::Created,
        hype_types::InventoryRequest, hype_types::Inventory, hype_types::SourceKind,
        hype_types::SourceVm, hype_types::SourceDisk, hype_types::SourceNic, hype_types::DiskBus,
        hype_types::PowerState,
        hype_types::StatusInfo, hype_types::StateCount, hype_types::MemoryStatus,
        hype_types::DiskSpace, hype_types::Login, hype_types::SessionInfo,
    )),
    tags((name = "vms"), (name = "snapshots"), (name = "pools"), (name = "guest"), (name = "browser"), (name = "recordings"), (name = "events"), (name = "images"), (name = "jobs"), (name = "system"), (name = "session"))
)]
struct ApiDoc;

/// The frame the route table fills in.
pub(crate) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
    let (_, mut doc) = crate::routes::api().split_for_parts();
    add_common_responses(&mut doc, Layers::Auth);
    let (_, mut session) = crate::routes::session().split_for_parts();
    add_common_responses(&mut session, Layers::Limit);
    let (_, mut public) = crate::routes::public().split_for_parts();
    add_common_responses(&mut public, Layers::None);
    doc.merge(session);
    doc.merge(public);
    doc
});

/// Which layers stand in front of a group of routes, beyond the Host and
/// Origin rules that stand in front of all.
#[derive(PartialEq)]
enum Layers {
    None,
    /// The peer allow-list and the rate limit (the login).
    Limit,
    /// Those and the key.
    Auth,
}

/// The answers every route can give whatever it does, because the layers
/// in front of all of them (Host and Origin rules, auth, the rate limit,
/// the store) give them: listed once here rather than on each handler.
fn add_common_responses(doc: &mut utoipa::openapi::OpenApi, layers: Layers) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |desc: &str| {
        ResponseBuilder::new()
            .description(desc)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    let mut common = vec![
        ("403", "Refused: a Host or Origin hyped does not serve (DNS rebinding, cross-site use), or a peer outside the allowed networks"),
        ("500", "hyped failed on its own side (the message says where)"),
    ];
    if layers == Layers::Auth {
        common.push((
            "401",
            "No API key, or the wrong one, or a console session that ended",
        ));
    }
    if layers != Layers::None {
        common.push(("429", "Too many requests from this client; see Retry-After"));
    }
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            // A body that is not JSON, or not JSON at all.
            let body: &[(&str, &str)] = if op.request_body.is_some() {
                &[
                    ("400", "The body is not valid JSON (or YAML, where taken)"),
                    ("415", "The body is not of a media type the route takes"),
                ]
            } else {
                &[]
            };
            for (status, desc) in common.iter().chain(body) {
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| error(desc).into());
            }
        }
    }
}

/// The whole document.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    &DOCUMENT
}

/// The document as this hyped serves it: the create body's bounds are this
/// host's own (its CPUs and memory). The VMM choices stay all three: one
/// this host lacks is a 422 naming it, as a model SDKs share must allow.
pub fn served(host: hype_types::HostLimits) -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).expect("the document serialises");
    let props = &mut doc["components"]["schemas"]["CreateVm"]["properties"];
    props["cpu_cores"]["maximum"] = host.cpus.into();
    props["memory_mb"]["maximum"] = host.memory_mb.into();
    doc
}
