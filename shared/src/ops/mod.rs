//! Operations of the gateway that need no Workers binding: who may use the admin
//! API and what an admin request asks for, the audit trail, canary testers' beta access, the rolling metrics
//! window and the isolates' batches for it, the alert / rollback rules, the holds on raising the percentage, and the
//! blue/green switch gate.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod batch;
pub mod beta;
pub mod hold;
pub mod metrics;
pub mod replication;
pub mod switch;
