//! Shared plumbing of the experiment binaries: device selection, data-set selection and
//! small output helpers. The binaries themselves only parse arguments and call library code.

pub mod comparison;
pub mod crbm_gauss;
pub mod dataset;
pub mod device;
pub mod method_args;
pub mod output;
pub mod plots;
pub mod progress;
pub mod sim_args;
pub mod sweep_plots;
pub mod sweep_report;
pub mod sweep_run;
pub mod theta_input;
pub mod weight_maps;
