//! `iys-sim`: runs the IYS simulator until killed (SIGTERM/SIGINT).

use std::io::Write;
use std::process::ExitCode;

use iys_sim::{Config, Simulator, TokenLimitShape};

const USAGE: &str = "usage: iys-sim [--listen 127.0.0.1:8790] [--user NAME:PASSWORD]... [--token-ttl S] [--refresh-ttl S]
               [--token-limit N] [--token-window S] [--token-limit-shape errors|flat|empty]
               [--batch-delay-ms N] [--batch-enqueue-ms N] [--clock-speed X]
               [--no-rate-limit] [--rate-limit N] [--no-status-limit] [--status-limit N]
               [--changes-holdback S] [--threads N]
               [--push-ca-file PEM] [--push-retry-ms N] [--push-max-attempts N]";

fn parse_args(args: Vec<String>) -> Result<Config, String> {
    let mut cfg = Config { listen: "127.0.0.1:8790".to_string(), ..Config::default() };
    let mut users = Vec::new();
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: {v:?} is not a number"))
        }
        match flag.as_str() {
            "--listen" => cfg.listen = value()?,
            "--user" => {
                let v = value()?;
                let (name, password) = v.split_once(':').ok_or("--user wants NAME:PASSWORD")?;
                users.push((name.to_string(), password.to_string()));
            }
            "--token-ttl" => cfg.token_ttl_secs = num(&flag, value()?)?,
            "--refresh-ttl" => cfg.refresh_ttl_secs = num(&flag, value()?)?,
            "--token-limit" => cfg.token_limit_per_hour = num(&flag, value()?)?,
            "--token-window" => cfg.token_limit_window_secs = num(&flag, value()?)?,
            "--token-limit-shape" => {
                let v = value()?;
                cfg.token_limit_shape = TokenLimitShape::parse(&v).ok_or_else(|| format!("--token-limit-shape: {v:?} is not errors, flat or empty"))?;
            }
            "--batch-delay-ms" => cfg.batch_delay_ms = num(&flag, value()?)?,
            "--batch-enqueue-ms" => cfg.batch_enqueue_ms = num(&flag, value()?)?,
            "--clock-speed" => {
                let speed: f64 = num(&flag, value()?)?;
                if !speed.is_finite() || speed < 0.0 {
                    return Err(format!("--clock-speed: {speed} must be a number >= 0"));
                }
                cfg.clock_speed = speed;
            }
            "--no-status-limit" => cfg.status_limit_per_hour = None,
            "--status-limit" => cfg.status_limit_per_hour = Some(num(&flag, value()?)?),
            "--no-rate-limit" => cfg.rate_limit_per_sec = None,
            "--rate-limit" => cfg.rate_limit_per_sec = Some(num(&flag, value()?)?),
            "--changes-holdback" => cfg.changes_holdback_secs = num(&flag, value()?)?,
            "--threads" => cfg.threads = num(&flag, value()?)?,
            "--push-ca-file" => cfg.push_ca_file = Some(value()?),
            "--push-retry-ms" => cfg.push_retry_ms = num(&flag, value()?)?,
            "--push-max-attempts" => {
                cfg.push_max_attempts = num(&flag, value()?)?;
                if cfg.push_max_attempts == 0 {
                    return Err("--push-max-attempts must be 1 or more".to_string());
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if !users.is_empty() {
        cfg.users = users;
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1).collect()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let sim = match Simulator::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("iys-sim: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    // Scripts wait for exactly this line.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "iys-sim listening on {}", sim.base_url());
    let _ = out.flush();
    drop(out);
    // Serve until the default SIGTERM/SIGINT handling ends the process.
    loop {
        std::thread::park();
    }
}
