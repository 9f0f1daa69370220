//! The `steward` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use steward::app::{self, StartupError};
use steward::bench::{self, BenchError};
use steward::config::{Config, DatabaseUrl, MailSettings, DEFAULT_BIND};
use steward::{demo, telemetry};

#[derive(Parser)]
#[command(name = "steward", version, about = "Members, money and outcomes of an open-source foundation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web interface and API (settings come from the environment; see README).
    Serve {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Verify the invariants of the data (budgets, ledger, invoices, surveys, report emails, audit log) on
    /// the database in DATABASE_URL, changing nothing: one line per invariant; exit status 1 if any fails.
    Check,
    /// Scheduled work, run by hand.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Manage accounts from the server's shell.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Start on a fresh SQLite file filled with a demo foundation.
    Demo {
        /// The demo database file; it is recreated at every start.
        #[arg(long, default_value = "steward-demo.db")]
        db: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = DEFAULT_BIND)]
        bind: String,
    },
    /// Progress reports, by hand (the scheduler in serve does the same on the report schedule).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Outbound email.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Community health: read the tracked repositories from GitHub.
    Collect {
        #[command(subcommand)]
        command: CollectCommand,
    },
    /// Community health: import repository data collected elsewhere.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Measure how fast parts of Steward run on this machine (not a test: prints figures).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run every scheduled job once now (dues reminders), print what it queued, and exit.
    Run,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Generate a period's report: compute its figures and freeze them (once; again does nothing).
    Generate {
        /// 2026-Q3 (a quarter), 2026-H2 (a half year) or 2026-09 (a month); the period must have ended.
        #[arg(long)]
        period: String,
    },
    /// Queue a generated report for every subscribed representative (each gets it once, however often this runs).
    Send {
        #[arg(long)]
        period: String,
    },
}

#[derive(Subcommand)]
enum CollectCommand {
    /// Read pull requests, issues, comments, releases and advisories of every included repository, then
    /// write the linked metrics' observations. Resumes an interrupted run; otherwise fetches what changed
    /// since the last one.
    Github {
        /// The API's base URL (default STEWARD_GITHUB_API_URL, else https://api.github.com).
        #[arg(long)]
        api_url: Option<String>,
        /// A token to read with (default STEWARD_GITHUB_TOKEN; the environment keeps it out of `ps`).
        #[arg(long)]
        token: Option<String>,
        /// The longest wait for GitHub's rate limit to reset, in seconds; a later reset stops the run.
        #[arg(long, default_value_t = 900)]
        max_wait: u64,
    },
    /// Read a tracked repository's maintainers from GitHub, from a file in the repository (--file
    /// MAINTAINERS.md, CODEOWNERS, ...) or a team's members (--team org/slug), as maintainers from --since.
    Maintainers {
        /// The tracked repository, owner/name.
        #[arg(long)]
        repo: String,
        #[arg(long, conflicts_with = "team", required_unless_present = "team")]
        file: Option<String>,
        #[arg(long)]
        team: Option<String>,
        /// The day they became maintainers (YYYY-MM-DD).
        #[arg(long)]
        since: String,
        #[arg(long)]
        api_url: Option<String>,
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import JSON saved by `gh api --paginate` (pull requests, issues, comments, releases, advisories) for
    /// one tracked repository: all files or none.
    Github {
        /// The tracked repository, owner/name.
        #[arg(long)]
        repo: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Import a coverage report (Cobertura XML or LCOV) of a repository on a date.
    Coverage {
        #[arg(long)]
        repo: String,
        /// The day the report was measured, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Deliver every message that is due now, print what happened, and exit (serve does this continuously).
    Deliver,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// A large foundation (1,000 organizations, 100,000 ledger entries, 30,000 survey responses...) served by
    /// `steward serve` and loaded with wrk over loopback, on SQLite and PostgreSQL: throughput, p50/p99 of the
    /// main pages and API reads beside a no-database route, sign-ins, heavy aggregates, memory, disk.
    Web {
        /// sqlite, postgres or both.
        #[arg(long, default_value = "both")]
        backend: String,
        /// A PostgreSQL server where the bench creates and then drops its own scratch database.
        #[arg(long, env = "STEWARD_BENCH_PG_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres_url: String,
        /// The foundation's size: 1 is the full size; 0.1 a tenth of everything, for a quick look.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seconds each load runs.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Concurrent clients, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,16,128")]
        clients: Vec<u32>,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// The wrk binary to load with.
        #[arg(long, default_value = "wrk")]
        wrk: String,
        /// Keep the seeded SQLite file afterwards (its path is printed).
        #[arg(long)]
        keep: bool,
    },
    /// Generate, send and deliver a quarter's progress report for a foundation of this many organizations.
    Report {
        #[arg(long, default_value_t = 1_000)]
        organizations: u32,
        /// Representatives per organization (each gets the email).
        #[arg(long, default_value_t = 3)]
        representatives: u32,
        /// An empty scratch PostgreSQL database (postgres://...); by default a temporary SQLite file.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Queue messages and deliver them to an SMTP sink on the loopback interface.
    Mail {
        /// How many messages to queue and deliver.
        #[arg(long, default_value_t = 10_000)]
        messages: u32,
        /// A scratch PostgreSQL database (postgres://...) to run on; by default a temporary SQLite file. The
        /// bench migrates it and removes the rows it wrote.
        #[arg(long)]
        database_url: Option<String>,
        /// Messages sent at the same time (as STEWARD_MAIL_CONCURRENCY).
        #[arg(long, default_value_t = MailSettings::default().concurrency)]
        concurrency: u32,
        /// Messages claimed at once (as STEWARD_MAIL_BATCH_SIZE).
        #[arg(long, default_value_t = MailSettings::default().batch_size)]
        batch_size: u32,
    },
}

/// Why a command failed: one line for stderr.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error("{0}")]
    Community(String),
    #[error("DATABASE_URL: {0} migration(s) not applied; run `steward migrate` first")]
    NotMigrated(usize),
    #[error("{0} of {1} invariants do not hold")]
    Invariants(usize, usize),
}

impl From<steward::config::ConfigError> for CliError {
    fn from(e: steward::config::ConfigError) -> Self {
        Self::Startup(e.into())
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an invited account and print a one-time link to set its password (72 hours). Use it for the
    /// first admin.
    Add {
        #[arg(long)]
        email: String,
        /// member_rep, treasurer, council or admin; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Display name (defaults to the part of the email before @).
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line that names the setting; the log (if any) has the rest.
            eprintln!("steward: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve { no_migrate } => {
            let config = Config::from_env()?;
            telemetry::init(config.log_format);
            Ok(actix_web::rt::System::new().block_on(app::serve(config, !no_migrate))?)
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            telemetry::init(config.log_format);
            let db = app::connect(&config)?;
            let applied = app::migrate(&db)?;
            println!("{} migration(s) applied to {}", applied.len(), config.database_url.redacted());
            Ok(())
        }
        Command::Check => run_check(),
        Command::Demo { db: path, bind } => Ok(run_demo(path, bind)?),
        Command::Mail { command: MailCommand::Deliver } => Ok(deliver_mail()?),
        Command::Jobs { command: JobsCommand::Run } => Ok(run_jobs()?),
        Command::Report { command } => Ok(run_report(command)?),
        Command::Collect { command } => run_collect(command),
        Command::Import { command } => run_import(command),
        Command::Bench {
            command: BenchCommand::Web { backend, postgres_url, scale, seconds, clients, json, wrk, keep },
        } => {
            let backends = bench::web::Backend::parse(&backend)
                .map_err(|m| BenchError::from(steward::config::ConfigError::new("--backend", m)))?;
            Ok(bench::web::run(&bench::web::Options {
                backends,
                postgres_url,
                scale,
                seconds,
                clients,
                json,
                wrk,
                keep,
            })?)
        }
        Command::Bench { command: BenchCommand::Mail { messages, database_url, concurrency, batch_size } } => {
            // Quiet unless asked: a log line per message would be part of what is measured.
            if std::env::var_os("RUST_LOG").is_some() {
                telemetry::init(steward::config::LogFormat::Human);
            }
            Ok(bench::mail::run(&bench::mail::Options { messages, database_url, concurrency, batch_size })?)
        }
        Command::Bench { command: BenchCommand::Report { organizations, representatives, database_url } } => {
            if std::env::var_os("RUST_LOG").is_some() {
                telemetry::init(steward::config::LogFormat::Human);
            }
            Ok(bench::report::run(&bench::report::Options { organizations, representatives, database_url })?)
        }
        Command::User { command: UserCommand::Add { email, roles, name } } => {
            let config = Config::from_env()?;
            telemetry::init(config.log_format);
            let db = app::connect(&config)?;
            app::migrate(&db)?;
            let link = app::add_user(&db, &config, &email, &roles, name.as_deref())?;
            println!(
                "Account created for {}. Set its password here (the link works once, for 72 hours):",
                email.trim()
            );
            println!("{link}");
            Ok(())
        }
    }
}

fn run_check() -> Result<(), CliError> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let db = app::connect(&config)?;
    let mut conn = db.get().map_err(StartupError::Database)?;
    let pending = steward::db::pending_migration_count(&mut conn).map_err(StartupError::Migration)?;
    if pending > 0 {
        return Err(CliError::NotMigrated(pending));
    }
    let report = steward::check::run(&mut conn).map_err(StartupError::Command)?;
    for invariant in &report.invariants {
        println!("{}", invariant.line());
    }
    let failed = report.invariants.iter().filter(|i| !i.holds()).count();
    if failed > 0 {
        return Err(CliError::Invariants(failed, report.invariants.len()));
    }
    println!("all {} invariants hold", report.invariants.len());
    Ok(())
}

fn run_jobs() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let db = app::connect(&config)?;
    let key = app::signing_key(&config, &db)?;
    let run = actix_web::rt::System::new()
        .block_on(steward::jobs::run_once(&config, &db, &key))
        .map_err(StartupError::Command)?;
    println!("dues reminders queued: {} overdue, {} renewal", run.dues.overdue, run.dues.renewal);
    println!("survey reminders queued: {}", run.survey_reminders);
    match &run.reports.generated {
        Some(period) => println!("report generated: {period}"),
        None => println!("report generated: none due"),
    }
    println!("report emails queued: {}", run.reports.sent.queued);
    println!("anonymous answers counted: {}", run.survey_answers_counted);
    println!("email bodies emptied after retention: {}", run.mail_purged);
    Ok(())
}

fn run_report(command: ReportCommand) -> Result<(), StartupError> {
    use steward::reports::service as reports;
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let db = app::connect(&config)?;
    let key = app::signing_key(&config, &db)?;
    let mut conn = db.get().map_err(StartupError::Database)?;
    let site = steward::settings::service::load_site(&mut conn).map_err(StartupError::Command)?;
    match command {
        ReportCommand::Generate { period } => {
            let period = reports::parse_period(&period).map_err(StartupError::Command)?;
            let today = steward::db::now().date();
            let done = reports::generate(&mut conn, steward::audit::Actor::Cli, &period, today, &site.name)
                .map_err(StartupError::Command)?;
            if done.created {
                println!("report {} generated: its figures are frozen", done.report.period);
            } else {
                println!("report {} was generated before: nothing changed", done.report.period);
            }
        }
        ReportCommand::Send { period } => {
            let mail = steward::surveys::service::MailSettings {
                site_name: site.name,
                base_url: config.base_url.clone(),
                key,
            };
            let run =
                reports::send(&mut conn, steward::audit::Actor::Cli, &period, &mail).map_err(StartupError::Command)?;
            println!(
                "report {}: {} emails queued, {} had it already, {} turned report emails off",
                period.trim(),
                run.queued,
                run.already,
                run.unsubscribed
            );
        }
    }
    Ok(())
}

fn run_collect(command: CollectCommand) -> Result<(), CliError> {
    use steward::community::collector::{self, GithubClient};
    let (api_url, token, max_wait) = match command {
        CollectCommand::Github { ref api_url, ref token, max_wait } => (api_url.clone(), token.clone(), max_wait),
        CollectCommand::Maintainers { ref api_url, ref token, .. } => (api_url.clone(), token.clone(), 60),
    };
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let base = match api_url {
        Some(url) => {
            steward::config::check_api_url(&url).map_err(|m| CliError::Community(format!("--api-url: {m}")))?
        }
        None => config.github_api_url.clone(),
    };
    let token = token.map(steward::config::Secret::new).or(config.github_token.clone());
    let db = app::connect(&config)?;
    app::migrate(&db)?;
    let mut conn = db.get().map_err(StartupError::Database)?;
    let mut client = GithubClient::new(&base, token);
    client.max_wait = std::time::Duration::from_secs(max_wait);
    if let CollectCommand::Maintainers { repo, file, team, since, .. } = command {
        let source = match (file, team) {
            (Some(path), _) => collector::MaintainerSource::File(path),
            (None, Some(team)) => collector::MaintainerSource::Team(team),
            (None, None) => return Err(CliError::Community("--file or --team: say where the maintainers are".into())),
        };
        let repository = steward::community::service::find_by_full_name(&mut conn, &repo)
            .map_err(|e| CliError::Community(format!("--repo: {e}")))?;
        let added =
            collector::read_maintainers(&mut conn, &client, steward::audit::Actor::Cli, repository.id, &source, &since)
                .map_err(|e| match e {
                    collector::CollectError::Service(steward::domain::ServiceError::Validation(errors)) => {
                        CliError::Community(steward::domain::messages(errors))
                    }
                    other => CliError::Community(other.to_string()),
                })?;
        println!("{added} maintainers added to {repo}");
        return Ok(());
    }
    let mut show = |p: &collector::Progress<'_>| {
        eprint!(
            "\r[{}/{}] {} {:<10} {} items so far\x1b[K",
            p.repository_index, p.repositories, p.repository, p.endpoint, p.items
        );
    };
    let done = collector::collect(&mut conn, &client, steward::audit::Actor::Cli, steward::db::now().date(), &mut show);
    eprintln!();
    let (run, resumed) =
        done.map_err(|e| CliError::Community(format!("{e} (the run keeps what it stored; run again to resume)")))?;
    println!(
        "run {}{}: {} items stored, {} skipped, {} observations written",
        run.id,
        if resumed { " (resumed)" } else { "" },
        run.items,
        steward::community::service::run_skipped(&run).len(),
        run.observations
    );
    Ok(())
}

fn run_import(command: ImportCommand) -> Result<(), CliError> {
    use steward::community::service;
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| CliError::Community(format!("cannot read {}: {e}", path.display())))
    };
    let db = app::connect(&config)?;
    app::migrate(&db)?;
    let mut conn = db.get().map_err(StartupError::Database)?;
    let actor = steward::audit::Actor::Cli;
    let done = match command {
        ImportCommand::Github { repo, files } => {
            let mut loaded = Vec::new();
            for path in &files {
                loaded.push((path.display().to_string(), read(path)?));
            }
            service::import_github(&mut conn, actor, &repo, &loaded)
        }
        ImportCommand::Coverage { repo, date, file } => {
            let data = read(&file)?;
            service::import_coverage(&mut conn, actor, &repo, &date, &file.display().to_string(), &data)
        }
    };
    let run = done.map_err(|e| match e {
        steward::domain::ServiceError::Validation(errors) => CliError::Community(format!(
            "nothing imported: {}",
            errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ")
        )),
        other => CliError::Community(other.to_string()),
    })?;
    println!(
        "run {}: {} items imported, {} skipped, {} observations written",
        run.id,
        run.items,
        service::run_skipped(&run).len(),
        run.observations
    );
    Ok(())
}

fn deliver_mail() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let db = app::connect(&config)?;
    actix_web::rt::System::new().block_on(async move {
        let delivery = app::mail_delivery(&config, &db)?;
        let done = delivery.run_until_idle().await;
        delivery.mailer().shutdown().await;
        let report = done.map_err(StartupError::Database)?;
        println!(
            "{} sent, {} to try again later, {} dead, {} cancelled (to {})",
            report.sent,
            report.retrying,
            report.dead,
            report.cancelled,
            delivery.mailer().destination()
        );
        Ok(())
    })
}

fn run_demo(path: PathBuf, bind: String) -> Result<(), StartupError> {
    let mut config = Config::from_env()?;
    let bind_addr = bind.parse().map_err(|_| {
        StartupError::Config(steward::config::ConfigError::new(
            "--bind",
            format!("'{bind}' is not an address like 127.0.0.1:8080"),
        ))
    })?;
    config.bind = bind_addr;
    if std::env::var("STEWARD_BASE_URL").is_err() {
        config.base_url = format!("http://{bind_addr}");
    }
    config.database_url = DatabaseUrl::Sqlite(path.to_string_lossy().into_owned());
    telemetry::init(config.log_format);

    // Bind before touching the file, so a busy port leaves an earlier demo database alone.
    let listener = app::bind(bind_addr, "--bind")?;
    demo::remove_database(&path).map_err(|e| {
        StartupError::Config(steward::config::ConfigError::new(
            "--db",
            format!("cannot replace {}: {e}", path.display()),
        ))
    })?;
    let db = app::connect(&config)?;
    app::migrate(&db)?;
    {
        let mut conn = db.get().map_err(StartupError::Database)?;
        demo::seed(&mut conn, &config.base_url).map_err(StartupError::Demo)?;
    }
    println!("Steward demo: {}", config.base_url);
    println!("  database: {} (recreated at every start)", path.display());
    println!("  sign in with any of these, password {}:", demo::DEMO_PASSWORD);
    for (email, _, roles, _) in demo::DEMO_USERS {
        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        println!("    {email:<34} {}", roles.join(", "));
    }
    match &config.smtp_url {
        Some(_) => println!("  mail: sent through STEWARD_SMTP_URL"),
        None => println!("  mail: written as .eml files to {}", config.data_dir.join("mail").display()),
    }
    println!("  stop with Ctrl-C");
    actix_web::rt::System::new().block_on(app::run_server(config, db, listener))
}
