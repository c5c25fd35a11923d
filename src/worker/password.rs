//! The IYS password of an account: `iys.account.password`, or, where that is NULL, the
//! account's line in the file named by `iys.password_file`. A password kept in that file never
//! enters the database: pg_dump, base backups, replicas and the table itself never hold it.
//!
//! The file has one `iys_code:password` line per account (the password is everything after
//! the first `:`; blank lines and lines starting with `#` are skipped) and, like `.pgpass`, must
//! be readable by its owner only: a file that group or others can read is refused, not used.

use std::os::unix::fs::PermissionsExt;

/// The password of account `iys_code`: `stored` when the account has one, else its line in
/// `file`. Err says why there is none, without any secret.
pub fn password_for(stored: Option<&str>, iys_code: &str, file: Option<&str>) -> Result<String, String> {
    if let Some(password) = stored {
        return Ok(password.to_owned());
    }
    let Some(path) = file else {
        return Err(format!("account {iys_code} has no password: iys.account.password is NULL and iys.password_file is not set"));
    };
    let metadata = std::fs::metadata(path).map_err(|e| format!("iys.password_file cannot be read ({})", e.kind()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err("iys.password_file is readable by group or others; chmod 600 it (it is not used until then)".to_owned());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("iys.password_file cannot be read ({})", e.kind()))?;
    line_for(&text, iys_code).ok_or_else(|| format!("iys.password_file has no line for account {iys_code} (iys_code:password)"))
}

/// The password on `iys_code`'s line of the file's text.
fn line_for(text: &str, iys_code: &str) -> Option<String> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| line.split_once(':').filter(|(code, _)| code.trim() == iys_code).map(|(_, password)| password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_of_the_file() {
        let text = "# accounts\n\n700001:s3cret:with:colons\n 700002 : spaced\r\n";
        assert_eq!(line_for(text, "700001").as_deref(), Some("s3cret:with:colons"));
        assert_eq!(line_for(text, "700002").as_deref(), Some(" spaced"));
        assert_eq!(line_for(text, "7000"), None);
        assert_eq!(line_for("#700001:x", "700001"), None);
    }

    #[test]
    fn the_stored_password_wins_and_the_file_must_be_private() {
        assert_eq!(password_for(Some("db"), "700001", Some("/nonexistent")).as_deref(), Ok("db"));
        assert!(password_for(None, "700001", None).unwrap_err().contains("not set"));
        let path = std::env::temp_dir().join(format!("pg_iys_password_test_{}", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        writeln!(file, "700001:from-file").unwrap();
        let path_text = path.to_str().unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = password_for(None, "700001", Some(path_text)).unwrap_err();
        assert!(refused.contains("chmod 600") && !refused.contains("from-file"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(password_for(None, "700001", Some(path_text)).as_deref(), Ok("from-file"));
        assert!(password_for(None, "700009", Some(path_text)).unwrap_err().contains("no line for account 700009"));
        std::fs::remove_file(&path).unwrap();
    }
}
