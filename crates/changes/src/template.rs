//! Standard-change templates: routine, low-risk changes that are pre-approved.
//! A standard change copies its plans from one of these and needs no approval.

use serde::Serialize;
use specta::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StandardTemplate {
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub implementation_plan: &'static str,
    pub backout_plan: &'static str,
    pub test_plan: &'static str,
}

pub const TEMPLATES: [StandardTemplate; 3] = [
    StandardTemplate {
        key: "dependency-update",
        title: "Routine dependency update",
        description: "Patch-level library updates that passed the pipeline's full test suite.",
        implementation_plan:
            "Promote the artefact along the path to live with the blue-green strategy.",
        backout_plan:
            "Switch traffic back to the previous leg; it keeps running until the soak ends.",
        test_plan: "Automated suite in the pipeline; smoke tests before traffic; 30-minute soak.",
    },
    StandardTemplate {
        key: "certificate-rotation",
        title: "TLS certificate rotation",
        description: "Replace a certificate before expiry with one from the same issuer.",
        implementation_plan: "Deploy the configuration artefact carrying the new certificate.",
        backout_plan:
            "Redeploy the previous configuration artefact; the old certificate is still valid.",
        test_plan: "Check the served certificate's fingerprint and expiry after the switch.",
    },
    StandardTemplate {
        key: "feature-flag-dark-launch",
        title: "Dark launch behind a feature flag",
        description: "Code ships with its feature flag off; nothing changes for users.",
        implementation_plan: "Promote the artefact; leave the flag off.",
        backout_plan: "Switch traffic back to the previous leg.",
        test_plan: "Smoke tests with the flag off; flag state checked after the switch.",
    },
];

pub fn template(key: &str) -> Option<&'static StandardTemplate> {
    TEMPLATES.iter().find(|t| t.key == key)
}
