//! The decision on each opening request: [`RequestInfo`] is what the hook sees, [`Decision`]
//! what it answers.

use std::net::SocketAddr;
use std::sync::Arc;

use resock_core::Request;

/// An opening request, as the decision hook sees it.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub(crate) request: Request,
    pub(crate) peer_addr: SocketAddr,
}

impl RequestInfo {
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// The resource name: path and query, starting with `/`.
    pub fn path(&self) -> &str {
        &self.request.path
    }

    /// The `Origin` header, if any (a browser always sends one).
    pub fn origin(&self) -> Option<&str> {
        self.request.origin.as_deref()
    }

    /// The offered subprotocols, in the client's order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.request.subprotocols
    }

    /// The first header called `name` (ASCII case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// Every request header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.request.headers
    }

    /// The whole validated request.
    pub fn request(&self) -> &Request {
        &self.request
    }
}

/// The answer to an opening request: accept (with a subprotocol and extra headers) or reject
/// with an HTTP status.
///
/// ```
/// use resock::Decision;
///
/// let chat = Decision::accept().subprotocol("chat").header("X-Served-By", "a");
/// let refused = Decision::reject(403).body("no token");
/// # let _ = (chat, refused);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub(crate) verdict: Verdict,
    pub(crate) headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept { subprotocol: Option<String> },
    Reject { status: u16, body: Vec<u8> },
}

impl Decision {
    /// Accept, without a subprotocol.
    pub fn accept() -> Self {
        Decision {
            verdict: Verdict::Accept { subprotocol: None },
            headers: Vec::new(),
        }
    }

    /// Reject with `status` (for example 401, 403 or 404) and an empty body.
    pub fn reject(status: u16) -> Self {
        Decision {
            verdict: Verdict::Reject {
                status,
                body: Vec::new(),
            },
            headers: Vec::new(),
        }
    }

    /// Accept choosing `name`, one of the client's
    /// [`subprotocols`](RequestInfo::subprotocols); a name the client did not offer is left
    /// out of the answer (the connection opens without a subprotocol). No effect on a
    /// rejection.
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        if let Verdict::Accept { subprotocol } = &mut self.verdict {
            *subprotocol = Some(name.into());
        }
        self
    }

    /// A rejection's body. No effect on an acceptance.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Verdict::Reject { body, .. } = &mut self.verdict {
            *body = bytes.into();
        }
        self
    }

    /// An extra response header (a cookie, `Retry-After` on a 503). Headers the handshake
    /// writes itself are left out.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Whether this accepts the request.
    pub fn is_accept(&self) -> bool {
        matches!(self.verdict, Verdict::Accept { .. })
    }
}

/// The hook, shared by every connection task.
pub(crate) type Decide = Arc<dyn Fn(&RequestInfo) -> Decision + Send + Sync>;
