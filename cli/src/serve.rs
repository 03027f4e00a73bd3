//! `resock serve [ADDR]`: an echo (or broadcast) server that runs until it is killed.

use std::process::ExitCode;
use std::sync::Arc;

use resock::Config;
use serde_json::{Map, Value};

use crate::args::ServeArgs;
use crate::jsonl::json_line;
use crate::printer::{self, Printer};
use crate::report::hex;
use crate::server::{Mode, Server, ServerEvent, ServerOptions};
use crate::term::{Paint, Style};

pub fn run(args: &ServeArgs) -> ExitCode {
    let mut config = Config::default();
    if args.no_compress {
        config = config.deflate(None);
    }
    if let Some(bytes) = args.max_message {
        config = config.max_message_size(bytes).max_frame_size(bytes);
    }
    let options = ServerOptions {
        mode: if args.broadcast { Mode::Broadcast } else { Mode::Echo },
        config,
        greeting: None,
    };
    let paint = Paint::stderr();
    let (json, quiet) = (args.json_events, args.quiet);
    let printer = Arc::new(Printer::stdout(printer::DEFAULT_CAPACITY));
    let events = Arc::clone(&printer);
    let observer = Arc::new(move |event: ServerEvent| {
        if json {
            events.print(event_json(&event));
        }
        if !quiet {
            if let Some(line) = event_line(&event) {
                eprintln!("{}", paint.paint(Style::Dim, line));
            }
        }
    });
    let server = match Server::start(args.addr, options, observer) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "{} cannot listen on {}: {e}",
                paint.paint(Style::Red, "resock: error:"),
                args.addr
            );
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr();
    let mode = if args.broadcast { "broadcast" } else { "echo" };
    if json {
        printer.print(json_line!("event": "listening", "addr": addr.to_string(), "port": addr.port(), "mode": mode));
    }
    // Always printed (even with --quiet): scripts read the port from it.
    eprintln!("listening on ws://{addr} ({mode})");
    server.wait();
    ExitCode::SUCCESS
}

fn event_line(event: &ServerEvent) -> Option<String> {
    match event {
        ServerEvent::Connected {
            id,
            peer,
            path,
            subprotocol,
            ..
        } => Some(match subprotocol {
            Some(p) => format!("#{id} connected from {peer} to {path} (subprotocol {p})"),
            None => format!("#{id} connected from {peer} to {path}"),
        }),
        ServerEvent::Message { .. } => None,
        ServerEvent::Disconnected { opened: false, .. } => None,
        ServerEvent::Disconnected {
            id,
            code,
            error: Some(e),
            ..
        } => Some(format!("#{id} disconnected ({}): {e}", code)),
        ServerEvent::Disconnected { id, code, .. } => Some(format!("#{id} disconnected ({})", code)),
    }
}

fn event_json(event: &ServerEvent) -> String {
    match event {
        ServerEvent::Connected {
            id,
            peer,
            path,
            subprotocol,
            extensions,
            headers,
        } => {
            // Header names lower-cased; repeated headers joined with ", " (as HTTP allows).
            let mut joined = Map::new();
            for (name, value) in headers {
                let name = name.to_ascii_lowercase();
                let merged = match joined.get(&name).and_then(Value::as_str) {
                    Some(previous) => format!("{previous}, {value}"),
                    None => value.clone(),
                };
                joined.insert(name, Value::String(merged));
            }
            json_line!(
                "event": "connected",
                "client": id,
                "peer": peer.to_string(),
                "path": path,
                "subprotocol": subprotocol,
                "extensions": extensions,
                "headers": joined,
            )
        }
        ServerEvent::Message { id, message } => match message.as_text() {
            Some(text) => json_line!("event": "message", "client": id, "text": text),
            None => json_line!("event": "message", "client": id, "binary": hex(message.as_bytes())),
        },
        ServerEvent::Disconnected {
            id,
            opened,
            code,
            reason,
            error,
        } => json_line!(
            "event": "disconnected",
            "client": id,
            "opened": opened,
            "code": code.0,
            "reason": reason,
            "error": error,
        ),
    }
}
