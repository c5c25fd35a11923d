//! `DROP EXTENSION pg_iys` (or `DROP SCHEMA iys CASCADE`) would silently discard every change
//! still waiting for IYS. An event trigger at `ddl_command_start` refuses it while changes are
//! pending or in flight, saying how many, unless `iys.drop_with_pending_changes` is on.
//!
//! A C-language event trigger, because only C sees the statement (which extension or schema
//! is being dropped); PL/pgSQL at ddl_command_start does not.

use crate::core::Error;
use crate::settings;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

#[unsafe(no_mangle)]
pub extern "C" fn pg_finfo_pg_iys_drop_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn pg_iys_drop_guard(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: called by PostgreSQL as an event trigger: context is its EventTriggerData.
    let drops_pg_iys = unsafe {
        let context = (*fcinfo).context;
        !context.is_null()
            && (*context).type_ == pg_sys::NodeTag::T_EventTriggerData
            && drops_pg_iys((*(context as *mut pg_sys::EventTriggerData)).parsetree)
    };
    if drops_pg_iys && !settings::DROP_WITH_PENDING_CHANGES.get() {
        let counts = Spi::get_two::<i64, i64>(
            "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'in_flight') FROM iys.outbox",
        );
        if let Ok((Some(pending), Some(in_flight))) = counts {
            if pending + in_flight > 0 {
                crate::sql_api::error::raise(&Error::PendingChanges { pending, in_flight });
            }
        }
    }
    pg_sys::Datum::from(0)
}

/// Whether the statement is a DROP of extension pg_iys or of schema iys.
unsafe fn drops_pg_iys(statement: *mut pg_sys::Node) -> bool {
    if statement.is_null() || (*statement).type_ != pg_sys::NodeTag::T_DropStmt {
        return false;
    }
    let drop = statement as *mut pg_sys::DropStmt;
    let wanted: &[u8] = match (*drop).removeType {
        pg_sys::ObjectType::OBJECT_EXTENSION => b"pg_iys",
        pg_sys::ObjectType::OBJECT_SCHEMA => b"iys",
        _ => return false,
    };
    let objects = (*drop).objects;
    if objects.is_null() {
        return false;
    }
    (0..(*objects).length as usize).any(|i| {
        let node = (*(*objects).elements.add(i)).ptr_value as *mut pg_sys::Node;
        object_name(node).is_some_and(|name| name == wanted)
    })
}

unsafe fn object_name<'a>(node: *mut pg_sys::Node) -> Option<&'a [u8]> {
    if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_String {
        return None;
    }
    let text = (*(node as *mut pg_sys::String)).sval;
    (!text.is_null()).then(|| CStr::from_ptr(text).to_bytes())
}
