//! Survey answers: what a form or the API sends for each kind of question (`surveys::service::check_answers`),
//! and stored answers read back, by the fast path (`parse_answer`) that must equal the serde reading.

use steward::surveys::model::{Answer, Question};
use steward::surveys::service::{check_answers, parse_answer, RawAnswers};

const OPTIONS: usize = 4;
const PRIORITIES: usize = 3;

fn question(id: i64, kind: &str) -> Question {
    let options = match kind {
        "likert" => serde_json::json!(["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]),
        "single" | "multi" | "ranking" => serde_json::json!(["Docs", "Security", "Packaging", "CI"]),
        "points" => serde_json::json!([11, 12, 13]),
        _ => serde_json::json!([]),
    };
    Question {
        id,
        survey_id: 1,
        position: id as i32,
        kind: kind.into(),
        prompt: format!("A {kind} question"),
        required: id % 2 == 0,
        options: options.to_string(),
        copied_from: None,
    }
}

fn stored_reads_back(answer: &Answer) {
    let stored = serde_json::to_string(answer).expect("an answer serializes");
    assert_eq!(parse_answer(&stored).as_ref(), Some(answer), "stored as {stored}");
}

/// One input of the `survey_answers` target.
pub fn run(data: &[u8]) {
    let raw = super::text(data);

    // A stored value: the fast path reads exactly what serde reads.
    let direct = parse_answer(&raw);
    let json: Option<Answer> = serde_json::from_str(&raw).ok();
    assert_eq!(direct, json, "{raw:?}");
    if let Some(a) = &direct {
        stored_reads_back(a);
    }

    // Submitted values: one per line, the same lines offered to a question of every kind.
    let kinds = ["likert", "nps", "single", "multi", "ranking", "points", "number", "short_text", "long_text"];
    let questions: Vec<Question> = kinds.iter().enumerate().map(|(i, k)| question(i as i64 + 1, k)).collect();
    let values: Vec<String> = raw.split('\n').map(str::to_string).collect();
    let answers: RawAnswers = questions.iter().map(|q| (q.id, values.clone())).collect();
    for final_answer in [false, true] {
        let Ok(checked) = check_answers(&questions, &answers, final_answer) else { continue };
        for q in &questions {
            let Some(answer) = checked.get(&q.id) else { continue };
            stored_reads_back(answer);
            match (q.kind.as_str(), answer) {
                ("likert", Answer::Number(n)) => assert!((1..=5).contains(n)),
                ("nps", Answer::Number(n)) => assert!((0..=10).contains(n)),
                ("single", Answer::Number(n)) => assert!((0..OPTIONS as i64).contains(n)),
                ("number", Answer::Number(n)) => assert!(n.unsigned_abs() <= 1_000_000_000_000_000),
                ("multi", Answer::List(l)) => {
                    assert!(l.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats: {l:?}");
                    assert!(l.iter().all(|n| (0..OPTIONS as i64).contains(n)));
                }
                ("ranking", Answer::List(l)) => {
                    let mut sorted = l.clone();
                    sorted.sort();
                    assert_eq!(sorted, (0..OPTIONS as i64).collect::<Vec<_>>(), "a permutation: {l:?}");
                }
                ("points", Answer::List(l)) => {
                    assert_eq!(l.len(), PRIORITIES);
                    assert!(l.iter().all(|p| (0..=100).contains(p)) && l.iter().sum::<i64>() == 100, "{l:?}");
                }
                ("short_text", Answer::Text(t)) => assert!(t.len() <= 200),
                ("long_text", Answer::Text(t)) => assert!(t.len() <= 5000),
                (kind, answer) => panic!("a {kind} question answered with {answer:?}"),
            }
        }
    }
}
