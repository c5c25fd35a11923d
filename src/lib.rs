//! pg_iys: keeps marketing-consent tables in step with IYS. This file only wires the modules.

mod core;
mod settings;
mod sql_api;
mod worker;

::pgrx::pg_module_magic!();

::pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);

#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    let preloading = unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress };
    settings::register(preloading);
    // Background workers can only be registered while the postmaster preloads us.
    if preloading {
        worker::register();
    }
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
