//! The HTTP client side: Courier's API as the tool calls it, over HTTP/1.1 with keep-alive.
//! Concurrent requests each get their own connection, as a browser's long-polls do.

use crate::error::Error;
use futures::StreamExt;
use reqwest::StatusCode;
use shared::groups::{CreateGroup, GroupInfo, JoinGroup, JoinPolicy};
use shared::{
    ClientMsgId, Cursor, EventBatch, GroupId, GuestSession, MsgType, SendAck, SendMessage, Target,
    UserId,
};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Longest wait for a non-polling request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How far beyond its `timeout` a poll may take before the client gives up on it.
const POLL_GRACE: Duration = Duration::from_secs(15);

/// A signed-in test user.
#[derive(Clone, Debug)]
pub struct User {
    pub uid: UserId,
    pub token: String,
}

/// One server's API, through one or more connection pools. Each pool connects from its own
/// 127.0.0.x source address, so that tens of thousands of connections do not run out of ports.
#[derive(Clone)]
pub struct Api {
    base: String,
    pools: Vec<reqwest::Client>,
}

impl Api {
    /// A client of `base` connecting from 127.0.0.1.
    pub fn new(base: &str) -> Result<Self, Error> {
        Self::with_sources(base, 1)
    }

    /// A client of `base` whose connections are spread over `sources` addresses 127.0.0.1,
    /// 127.0.0.2, ... (the whole of 127/8 is loopback on Linux).
    pub fn with_sources(base: &str, sources: u8) -> Result<Self, Error> {
        let pools = (1..=sources.max(1))
            .map(|last| {
                reqwest::Client::builder()
                    .no_proxy()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
                    .pool_max_idle_per_host(usize::MAX)
                    .pool_idle_timeout(Duration::from_secs(60))
                    .tcp_nodelay(true)
                    .connect_timeout(Duration::from_secs(10))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            base: base.to_owned(),
            pools,
        })
    }

    /// A client of `base` over HTTP/2 without TLS (h2c, prior knowledge), with `connections`
    /// connections; the requests of each are multiplexed as streams on it.
    pub fn http2(base: &str, connections: usize) -> Result<Self, Error> {
        let pools = (0..connections.max(1))
            .map(|_| {
                reqwest::Client::builder()
                    .no_proxy()
                    .http2_prior_knowledge()
                    .pool_max_idle_per_host(1)
                    .pool_idle_timeout(Duration::from_secs(60))
                    .tcp_nodelay(true)
                    .connect_timeout(Duration::from_secs(10))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            base: base.to_owned(),
            pools,
        })
    }

    /// The pool for request number `n` (round robin over the source addresses).
    fn pool(&self, n: usize) -> &reqwest::Client {
        &self.pools[n % self.pools.len()]
    }

    /// `POST /api/session/guest`, expecting 201.
    pub async fn guest(&self) -> Result<User, Error> {
        let response = self
            .pool(0)
            .post(format!("{}/api/session/guest", self.base))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await?;
        let session: GuestSession = expect(response, StatusCode::CREATED).await?;
        Ok(User {
            uid: session.uid,
            token: session.token,
        })
    }

    /// Creates `count` guests, `concurrency` at a time.
    pub async fn guests(&self, count: usize, concurrency: usize) -> Result<Vec<User>, Error> {
        futures::stream::iter(0..count)
            .map(|_| self.guest())
            .buffer_unordered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// `POST /api/messages`: a one-to-one text message, answered once committed.
    pub async fn send(
        &self,
        from: &User,
        to: UserId,
        client_msg_id: String,
        content: String,
    ) -> Result<SendAck, Error> {
        self.send_to(from, Target::User(to), client_msg_id, content)
            .await
    }

    /// `POST /api/groups`: an open group owned by `owner`.
    pub async fn create_group(&self, owner: &User, gname: &str) -> Result<GroupId, Error> {
        let body = CreateGroup {
            gname: gname.to_owned(),
            intro: String::new(),
            join_policy: JoinPolicy::Open,
        };
        let response = self
            .pool(0)
            .post(format!("{}/api/groups", self.base))
            .bearer_auth(&owner.token)
            .json(&body)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await?;
        let group: GroupInfo = expect(response, StatusCode::CREATED).await?;
        Ok(group.gid)
    }

    /// `POST /api/groups/{gid}/join` (an open group: joined at once).
    pub async fn join_group(&self, user: &User, gid: GroupId) -> Result<(), Error> {
        let response = self
            .pool(0)
            .post(format!("{}/api/groups/{gid}/join", self.base))
            .bearer_auth(&user.token)
            .json(&JoinGroup::default())
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await?;
        let _: serde_json::Value = expect(response, StatusCode::OK).await?;
        Ok(())
    }

    /// `POST /api/messages` to any target.
    pub async fn send_to(
        &self,
        from: &User,
        to: Target,
        client_msg_id: String,
        content: String,
    ) -> Result<SendAck, Error> {
        let body = SendMessage {
            to,
            client_msg_id: ClientMsgId(client_msg_id),
            msg_type: MsgType::Text,
            content,
        };
        let response = self
            .pool(0)
            .post(format!("{}/api/messages", self.base))
            .bearer_auth(&from.token)
            .json(&body)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await?;
        expect(response, StatusCode::OK).await
    }

    /// `GET /api/events?after=&timeout=` through pool `n`.
    pub async fn poll(
        &self,
        n: usize,
        user: &User,
        after: Cursor,
        timeout: Duration,
    ) -> Result<EventBatch, Error> {
        let response = self
            .pool(n)
            .get(format!(
                "{}/api/events?after={}&timeout={}",
                self.base,
                after.0,
                timeout.as_secs_f64()
            ))
            .bearer_auth(&user.token)
            .timeout(timeout + POLL_GRACE)
            .send()
            .await?;
        expect(response, StatusCode::OK).await
    }
}

impl Api {
    /// `POST /api/files`, expecting 201.
    pub async fn create_file(
        &self,
        user: &User,
        file: &shared::files::NewFile,
    ) -> Result<shared::files::FileCreated, Error> {
        let response = self
            .pool(0)
            .post(format!("{}/api/files", self.base))
            .bearer_auth(&user.token)
            .json(file)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await?;
        expect(response, StatusCode::CREATED).await
    }

    /// `PUT /api/files/{id}/content` of the whole file in one request, expecting 200.
    pub async fn upload(
        &self,
        user: &User,
        id: &shared::files::FileId,
        data: reqwest::Body,
    ) -> Result<shared::files::FileInfo, Error> {
        let response = self
            .pool(0)
            .put(format!("{}/api/files/{id}/content", self.base))
            .bearer_auth(&user.token)
            .header("Upload-Offset", "0")
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .timeout(Duration::from_secs(300))
            .send()
            .await?;
        expect(response, StatusCode::OK).await
    }
}

/// Decodes the body when the status is `status`, else reports the status and the body.
async fn expect<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    status: StatusCode,
) -> Result<T, Error> {
    if response.status() == status {
        return Ok(response.json().await?);
    }
    let got = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(Error::Protocol(format!(
        "expected {status}, got {got}: {}",
        body.chars().take(200).collect::<String>()
    )))
}
