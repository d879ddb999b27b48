//! The OpenAPI document, generated from the handlers' own annotations and
//! the `hype-types` shapes, so it cannot drift from what the code answers.

use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "hype", description = "Single-node microVM orchestrator for browser sandboxes. \
        `/mcp` (the Model Context Protocol over streamable HTTP, same auth) is not a REST route and is not described here."),
    paths(
        routes::system::healthz, routes::system::version, routes::system::openapi,
        routes::system::metrics,
        routes::vms::list, routes::vms::create, routes::vms::get, routes::vms::delete,
        routes::vms::start, routes::vms::stop, routes::vms::pause, routes::vms::resume,
        routes::vms::snapshot, routes::vms::restore,
        routes::logs::logs, routes::events::vm_events,
        routes::guest::network, routes::guest::probe,
        routes::cdp::version, routes::cdp::list, routes::cdp::devtools, routes::cdp::screenshot,
        routes::images::list, routes::images::get, routes::images::delete,
        routes::jobs::submit, routes::jobs::list, routes::jobs::get, routes::jobs::cancel,
        routes::events::job_events,
    ),
    components(schemas(
        hype_types::Vm, hype_types::VmList, hype_types::CreateVm, hype_types::VmState,
        hype_types::VmmInfo, hype_types::VmmKind, hype_types::VmmChoice,
        hype_types::Event, hype_types::EventType, hype_types::ErrorBody, hype_types::ErrorDetail,
        hype_types::Image, hype_types::ImageList, hype_types::Firmware, hype_types::VersionInfo,
        hype_types::ChVersions, hype_types::AccelInfo,
        hype_types::GuestNetwork, hype_types::GuestInterface, hype_types::ProbeRequest,
        hype_types::ProbeResult,
        hype_types::Job, hype_types::JobList, hype_types::JobSpec, hype_types::JobBatch,
        hype_types::JobKind, hype_types::JobState, hype_types::JobSource, hype_types::JobProgress,
        hype_types::JobEvent, hype_types::JobEventType, hype_types::BootMode,
        hype_types::XcpngTransport,
    )),
    tags((name = "vms"), (name = "browser"), (name = "events"), (name = "images"), (name = "jobs"), (name = "system"))
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
