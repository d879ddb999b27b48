//! The VM lifecycle: one enum of states and one exhaustive transition
//! function. The store changes a VM's state column only through
//! [`VmState::apply`], so every path (API, supervisor, reconcile) obeys the
//! same rules and emits the same event for the same change.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::EventType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    Creating,
    Starting,
    Running,
    Paused,
    Stopping,
    Stopped,
    Crashed,
    Standby,
}

/// What happened to a VM. Each one names its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// A VMM process was started for it.
    Boot,
    /// The guest agent reported ready.
    Ready,
    Pause,
    Resume,
    /// A stop was requested; the VMM is still there.
    Stop,
    /// The VMM exited because we asked it to.
    Exited,
    /// The VMM died, or the guest never became ready.
    Crash,
    /// The VM's memory and devices went to disk and its VMM is gone.
    Snapshot,
    /// A VMM was started from the snapshot.
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a VM that is {from}")]
pub struct InvalidTransition {
    pub from: VmState,
    pub action: &'static str,
}

impl VmState {
    pub const ALL: [VmState; 8] = [
        VmState::Creating,
        VmState::Starting,
        VmState::Running,
        VmState::Paused,
        VmState::Stopping,
        VmState::Stopped,
        VmState::Crashed,
        VmState::Standby,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Creating => "creating",
            VmState::Starting => "starting",
            VmState::Running => "running",
            VmState::Paused => "paused",
            VmState::Stopping => "stopping",
            VmState::Stopped => "stopped",
            VmState::Crashed => "crashed",
            VmState::Standby => "standby",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether a VMM process is expected to exist in this state.
    pub fn has_vmm(self) -> bool {
        match self {
            VmState::Starting | VmState::Running | VmState::Paused | VmState::Stopping => true,
            VmState::Creating | VmState::Stopped | VmState::Crashed | VmState::Standby => false,
        }
    }

    /// The state after `t`, or why `t` is not allowed now. No wildcard arms:
    /// adding a state or a transition must be decided here, case by case.
    pub fn apply(self, t: Transition) -> Result<VmState, InvalidTransition> {
        use VmState::*;
        let next = match t {
            Transition::Boot => match self {
                Creating | Stopped | Crashed => Some(Starting),
                Starting | Running | Paused | Stopping | Standby => None,
            },
            Transition::Ready => match self {
                Starting => Some(Running),
                Creating | Running | Paused | Stopping | Stopped | Crashed | Standby => None,
            },
            Transition::Pause => match self {
                Running => Some(Paused),
                Creating | Starting | Paused | Stopping | Stopped | Crashed | Standby => None,
            },
            Transition::Resume => match self {
                Paused => Some(Running),
                Creating | Starting | Running | Stopping | Stopped | Crashed | Standby => None,
            },
            Transition::Stop => match self {
                Starting | Running | Paused => Some(Stopping),
                Creating | Stopping | Stopped | Crashed | Standby => None,
            },
            Transition::Exited => match self {
                Stopping => Some(Stopped),
                Creating | Starting | Running | Paused | Stopped | Crashed | Standby => None,
            },
            Transition::Crash => match self {
                Starting | Running | Paused | Stopping => Some(Crashed),
                Creating | Stopped | Crashed | Standby => None,
            },
            Transition::Snapshot => match self {
                Running | Paused => Some(Standby),
                Creating | Starting | Stopping | Stopped | Crashed | Standby => None,
            },
            Transition::Restore => match self {
                Standby => Some(Running),
                Creating | Starting | Running | Paused | Stopping | Stopped | Crashed => None,
            },
        };
        next.ok_or(InvalidTransition {
            from: self,
            action: t.verb(),
        })
    }
}

impl Transition {
    pub fn verb(self) -> &'static str {
        match self {
            Transition::Boot => "start",
            Transition::Ready => "mark ready",
            Transition::Pause => "pause",
            Transition::Resume => "resume",
            Transition::Stop => "stop",
            Transition::Exited => "mark stopped",
            Transition::Crash => "mark crashed",
            Transition::Snapshot => "snapshot",
            Transition::Restore => "restore",
        }
    }

    /// The event a transition emits, if any. A requested stop has none of
    /// its own: watchers see `VM_STOPPED` once the VMM is really gone.
    pub fn event(self) -> Option<EventType> {
        match self {
            Transition::Boot => Some(EventType::VmStarting),
            Transition::Ready => Some(EventType::VmRunning),
            Transition::Pause => Some(EventType::VmPaused),
            Transition::Resume => Some(EventType::VmResumed),
            Transition::Stop => None,
            Transition::Exited => Some(EventType::VmStopped),
            Transition::Crash => Some(EventType::VmCrashed),
            Transition::Snapshot => Some(EventType::VmSnapshotted),
            Transition::Restore => Some(EventType::VmRestored),
        }
    }
}

impl std::fmt::Display for VmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transition::*;
    use VmState::*;

    const ALL_T: [Transition; 9] = [
        Boot, Ready, Pause, Resume, Stop, Exited, Crash, Snapshot, Restore,
    ];

    #[test]
    fn the_happy_path() {
        let mut s = Creating;
        for t in [Boot, Ready, Pause, Resume, Stop, Exited, Boot, Ready] {
            s = s.apply(t).unwrap();
        }
        assert_eq!(s, Running);
        assert_eq!(Running.apply(Snapshot), Ok(Standby));
        assert_eq!(Standby.apply(Restore), Ok(Running));
    }

    #[test]
    fn a_crashed_vm_can_be_started_again_but_not_paused() {
        assert_eq!(Crashed.apply(Boot), Ok(Starting));
        let err = Crashed.apply(Pause).unwrap_err();
        assert_eq!(err.to_string(), "cannot pause a VM that is crashed");
    }

    #[test]
    fn standby_is_locked_until_restored() {
        for t in ALL_T {
            let allowed = Standby.apply(t).is_ok();
            assert_eq!(allowed, t == Restore, "{t:?} from standby");
        }
    }

    #[test]
    fn vmm_presence_matches_reachable_states() {
        // Every state reached by Boot/Ready/Pause/Stop has a VMM; every state
        // reached by Exited/Crash/Snapshot has none.
        for s in VmState::ALL {
            for t in ALL_T {
                if let Ok(next) = s.apply(t) {
                    let expect = matches!(t, Boot | Ready | Pause | Resume | Stop | Restore);
                    assert_eq!(next.has_vmm(), expect, "{s:?} --{t:?}--> {next:?}");
                }
            }
        }
    }

    #[test]
    fn states_serialize_as_the_contract_names_them() {
        for s in VmState::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            assert_eq!(VmState::parse(s.as_str()), Some(s));
        }
    }
}
