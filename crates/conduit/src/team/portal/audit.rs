//! `/portal/audit` (admins and auditors): the audit log, newest first, 100 a page, with an
//! action filter over the page and a link to older entries.

use axum::extract::RawQuery;
use axum::response::Response;
use maud::html;

use super::layout::{page, when};
use super::view::{field, params, Failure, Viewer};

const PAGE: i64 = 100;

/// `GET /portal/audit?action=&before=`.
pub async fn show(v: Viewer, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    v.require_reader()?;
    let q = params(raw.as_deref());
    let before = field(&q, "before");
    let action = field(&q, "action").unwrap_or_default().to_owned();
    let entries = v.ctx.team.store.list_audit(PAGE, before).await?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    let shown: Vec<_> = entries
        .iter()
        .filter(|e| action.is_empty() || e.action.starts_with(&action))
        .collect();
    let body = html! {
        form.search method="get" action="/portal/audit" {
            label for="a-action" { "Action starts with" }
            input #a-action name="action" value=(action) placeholder="key., user., auth.login" autocomplete="off";
            button type="submit" { "Filter" }
        }
        table.audit {
            thead { tr { th { "Time" } th { "Actor" } th { "Action" } th { "Target" } th { "Address" } th { "Detail" } } }
            tbody {
                @if shown.is_empty() { tr { td colspan="6" { "No entries." } } }
                @for e in &shown {
                    tr {
                        td { (when(e.at_ms / 1000)) }
                        td { (e.actor) }
                        td { code { (e.action) } }
                        td { (e.target.as_deref().unwrap_or("—")) }
                        td { (e.ip.as_deref().unwrap_or("—")) }
                        td { @if !e.detail.is_null() { code.detail { (e.detail.to_string()) } } }
                    }
                }
            }
        }
        @if let Some(id) = older {
            @let mut link = url::form_urlencoded::Serializer::new(String::new());
            @let link = { link.append_pair("before", &id); if !action.is_empty() { link.append_pair("action", &action); } link.finish() };
            p { a href={ "/portal/audit?" (link) } { "Older entries" } }
        }
    };
    Ok(page(&v, "/portal/audit", "Audit log", None, body))
}
