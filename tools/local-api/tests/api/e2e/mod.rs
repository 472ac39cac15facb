//! End-to-end: every status code of the API over real HTTP against the local API, once on the
//! in-memory store and once on DynamoDB (the DynamoDB Local server `make test` starts).

mod changes;
mod create;
mod reads;
