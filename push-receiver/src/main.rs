//! iys-push-receiver: the address IYS pushes consent movements to (İzin Hareketi İletimi, Push).
//!
//! IYS POSTs `{"list":[movement, ...]}` with HTTP basic authentication to an https address
//! registered per brand and consent type (`iys.push_register`). Each request is checked, its
//! movements are recorded by `iys.receive_push` in one transaction of a least-privilege role,
//! and only after that commit does IYS get its 200: an answer IYS sees means the movements are
//! in the database (the worker then applies them to the attached tables, as it applies pulled
//! ones). Anything else gets an error, so IYS sends it again; a movement that arrives twice, or
//! by push and by pull, is recorded once.
//!
//!   iys-push-receiver --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem \
//!       --credentials-file /etc/iys-push/credentials --database "host=db dbname=retail user=iys_push"

mod auth;
mod config;
mod http;
mod server;
mod store;

fn main() {
    let config = match config::Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("iys-push-receiver: {message}\n\n{}", config::USAGE);
            std::process::exit(2);
        }
    };
    if let Err(message) = server::run(config) {
        eprintln!("iys-push-receiver: {message}");
        std::process::exit(1);
    }
}
