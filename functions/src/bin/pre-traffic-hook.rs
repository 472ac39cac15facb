//! The PreTraffic hook of every function's gradual deploy (not an operation of the registry):
//! probes each new version before CodeDeploy shifts traffic to it
//! (`companies_edge::deploy_hook`).

fn main() -> Result<(), companies_edge::deploy_hook::Error> {
    companies_edge::deploy_hook::start()
}
