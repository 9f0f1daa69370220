//! The treasurer's dashboard page, with its charts drawn as inline SVG from the same numbers as its tables.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::service::{self, Dashboard};
use crate::accounts::{PageContext, Role};
use crate::db::Db;
use crate::locale::Shown;
use crate::web::{render, AppError, Layout};

/// One month's bars: money in above the axis, money out below, scaled to the largest month.
struct MonthBar {
    label: String,
    x: i64,
    in_y: i64,
    in_height: i64,
    out_height: i64,
    text: String,
}

/// One priority's bars: budget behind, allocated and spent in front, scaled to the largest budget.
struct BudgetBar {
    label: String,
    y: i64,
    budget_width: i64,
    allocated_width: i64,
    spent_width: i64,
    text: String,
}

const CHART_HEIGHT: i64 = 80;
const BAR_AREA: i64 = 420;

#[derive(Template)]
#[template(path = "treasury/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    d: Option<Dashboard>,
    months: Vec<MonthBar>,
    month_width: i64,
    budgets: Vec<BudgetBar>,
    budget_height: i64,
    /// Whether any priority has a budget for the year.
    has_budgets: bool,
    can_act: bool,
}

impl DashboardPage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        let currency = self.d.as_ref().map(|d| d.currency.as_str()).unwrap_or("USD");
        crate::money::format(*minor.borrow(), currency)
    }

    fn owed(&self, owed: impl std::borrow::Borrow<(String, i64)>) -> String {
        let owed = owed.borrow();
        crate::money::format(owed.1, &owed.0)
    }

    fn fund_name(&self, id: impl std::borrow::Borrow<Option<i64>>) -> String {
        let Some(d) = &self.d else { return String::new() };
        match *id.borrow() {
            None => "General fund".into(),
            Some(id) => {
                d.budgets.iter().find(|b| b.priority.id == id).map(|b| b.priority.title.clone()).unwrap_or_default()
            }
        }
    }
}

fn scale(value: i64, max: i64, size: i64) -> i64 {
    if max <= 0 {
        0
    } else {
        ((value.max(0) as i128 * size as i128) / max as i128) as i64
    }
}

fn month_bars(d: &Dashboard) -> Vec<MonthBar> {
    let max = d.months.iter().map(|m| m.money_in.max(-m.money_out)).max().unwrap_or(0);
    d.months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let in_height = scale(m.money_in, max, CHART_HEIGHT);
            MonthBar {
                label: m.month[5..].to_string(),
                x: 40 + i as i64 * 40,
                in_y: 10 + CHART_HEIGHT - in_height,
                in_height,
                out_height: scale(-m.money_out, max, CHART_HEIGHT),
                text: format!(
                    "{}: in {}, out {}",
                    m.month,
                    crate::money::format(m.money_in, &d.currency),
                    crate::money::format(-m.money_out, &d.currency)
                ),
            }
        })
        .collect()
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>().trim_end())
    }
}

fn budget_bars(d: &Dashboard) -> Vec<BudgetBar> {
    let max = d.budgets.iter().map(|b| b.budget_minor.max(b.allocated_minor).max(b.spent_minor)).max().unwrap_or(0);
    let money = |v: i64| crate::money::format(v, &d.currency);
    // Each priority, then its line items indented below it.
    let rows = d.budgets.iter().flat_map(|b| {
        std::iter::once((b.priority.title.clone(), b.budget_minor, b.allocated_minor, b.spent_minor)).chain(
            b.lines
                .iter()
                .map(|l| (format!("↳ {}", l.line.label), l.line.amount_minor, l.allocated_minor, l.spent_minor)),
        )
    });
    rows.enumerate()
        .map(|(i, (title, budget, allocated, spent))| BudgetBar {
            // The bars start at x = 200: longer titles are shortened (the full title is in the tooltip and table).
            label: shorten(&title, 30),
            y: 10 + i as i64 * 46,
            budget_width: scale(budget, max, BAR_AREA),
            allocated_width: scale(allocated, max, BAR_AREA),
            spent_width: scale(spent, max, BAR_AREA),
            text: format!(
                "{}: budget {}, allocated {}, spent {}",
                title,
                money(budget),
                money(allocated),
                money(spent)
            ),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct DashboardQuery {
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    year: Option<i64>,
}

pub async fn dashboard(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AppError> {
    let (viewer, year) = (ctx.user()?.clone(), query.year);
    let d = db.run(move |conn| service::dashboard(conn, &viewer, year)).await?;
    let months = d.as_ref().map(month_bars).unwrap_or_default();
    let budgets = d.as_ref().map(budget_bars).unwrap_or_default();
    let has_budgets = d.as_ref().is_some_and(|d| d.budgets.iter().any(|b| b.budget.is_some()));
    render(&DashboardPage {
        layout: ctx.layout("Treasury"),
        has_budgets,
        month_width: 40 + months.len() as i64 * 40 + 10,
        budget_height: 10 + budgets.len() as i64 * 46,
        months,
        budgets,
        can_act: ctx.user()?.has_role(Role::Treasurer),
        d,
    })
}
