//! The evaluation end to end on recorded outcomes built here, where the right answer is known:
//! a cheap model that fails one topic and an expensive one that answers everything.

use cost_optimizer::data::{CostUnit, Outcomes, Row};
use cost_optimizer::{cli, eval, plot};
use genai_embed::HashingEmbedder;

const EASY: &[&str] = &["capital of", "colour of", "name the river", "spell the word", "largest city in"];
const HARD: &[&str] = &["integrate the", "prove that", "derive the", "solve the recurrence", "eigenvalues of"];

/// `n` prompts per topic; the cheap model is right on easy ones (and on every fifth hard one),
/// the strong one is right everywhere but every tenth prompt. A third, mid-priced model is
/// right on easy prompts only. The cheap model's answer says when it is unsure.
fn outcomes(n: usize, offset: usize, models: usize) -> Outcomes {
    let mut rows = Vec::new();
    for i in offset..offset + n {
        for (topic, hard) in [(EASY, false), (HARD, true)] {
            let prompt = format!("{} item {} number {}", topic[i % topic.len()], i % 17, i);
            let cheap_right = !hard || i % 5 == 0;
            let strong_right = i % 10 != 3;
            let answer = if cheap_right { "The answer is 4." } else { "I'm not sure, it might be 5." };
            let mut correct = vec![f64::from(u8::from(cheap_right)), f64::from(u8::from(strong_right))];
            let mut cost = vec![0.001, 0.02];
            let mut responses = vec![Some(answer.to_owned()), Some("The answer is 4.".to_owned())];
            if models == 3 {
                correct.push(f64::from(u8::from(!hard)));
                cost.push(0.005);
                responses.push(Some("The answer is 4.".to_owned()));
            }
            rows.push(Row { id: format!("{i}-{hard}"), prompt, correct, cost, responses });
        }
    }
    let mut names = vec!["cheap".to_owned(), "strong".to_owned()];
    if models == 3 {
        names.push("mid".to_owned());
    }
    Outcomes { task: "synthetic".into(), models: names, unit: CostUnit::Usd, rows, dropped: 0 }
}

#[tokio::test]
async fn routing_a_topic_the_cheap_model_fails_saves_without_losing_accuracy() {
    let (train, test) = (outcomes(150, 0, 3), outcomes(100, 1000, 3));
    let embedder = HashingEmbedder::new(256);
    let opts = eval::Options { progress: false, folds: 3, ..eval::Options::default() };
    let r = eval::evaluate_task(&embedder, &train, &test, opts).await.unwrap();
    println!("{}", cli::table(&r, "synthetic"));
    assert_eq!(r.best, "strong");
    assert_eq!(r.hull, ["cheap", "strong"], "the mid model is under the line from cheap to strong");
    let names: Vec<&str> = r.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["knn", "boosted", "cascade"]);
    for p in &r.policies {
        // Half the prompts are easy: sending them to the cheap model saves close to half the bill.
        assert!(p.saving.mean > 0.35, "{}: saving {}", p.name, p.saving);
        assert!(p.saving.low <= p.saving.mean && p.saving.mean <= p.saving.high);
        assert!(p.vs_best.difference > -0.03, "{}: {:?}", p.name, p.vs_best);
        assert!(p.vs_zero_router.difference > 0.0, "{}: no better than the zero router at equal cost", p.name);
        assert!(!p.curve.is_empty());
    }
    assert!(cli::gate_failures(std::slice::from_ref(&r), 0.35).is_empty());
    assert!(!cli::gate_failures(std::slice::from_ref(&r), 0.99).is_empty(), "a 99% saving is out of reach");
    let svg = plot::svg(&r);
    assert!(svg.starts_with("<svg") && svg.contains("knn") && svg.trim_end().ends_with("</svg>"));
}

#[tokio::test]
async fn two_model_data_gets_routellm_metrics_and_random_scores_about_half() {
    let (mut train, mut test) = (outcomes(150, 0, 2), outcomes(150, 1000, 2));
    for o in [&mut train, &mut test] {
        o.unit = CostUnit::StrongCalls;
        o.rows.iter_mut().for_each(|r| r.cost = vec![0.0, 1.0]);
    }
    let embedder = HashingEmbedder::new(256);
    let opts = eval::Options { progress: false, folds: 3, ..eval::Options::default() };
    let r = eval::evaluate_task(&embedder, &train, &test, opts).await.unwrap();
    let random = r.random_routellm.as_ref().unwrap();
    assert!((random.apgr.mean - 0.5).abs() < 0.1, "random APGR {}", random.apgr);
    for p in &r.policies {
        let m = p.routellm.as_ref().unwrap();
        assert!(m.apgr.mean > random.apgr.high, "{}: APGR {} not above random", p.name, m.apgr);
        assert!(m.cpt50.mean < 0.5, "{}: CPT(50%) {}", p.name, m.cpt50);
    }
    assert!(cli::gate_failures(std::slice::from_ref(&r), 0.99).is_empty(), "strong-call units are not gated");

    // The same outcomes with the columns swapped (strong model first): the same metrics.
    for o in [&mut train, &mut test] {
        o.models.reverse();
        for row in &mut o.rows {
            row.correct.reverse();
            row.cost.reverse();
            row.responses.reverse();
        }
    }
    let swapped = eval::evaluate_task(&embedder, &train, &test, opts).await.unwrap();
    assert_eq!(swapped.best, "strong");
    let apgr = |r: &eval::TaskReport, i: usize| r.policies[i].routellm.as_ref().unwrap().apgr.mean;
    assert!((apgr(&r, 0) - apgr(&swapped, 0)).abs() < 1e-9, "kNN APGR depends on column order");
}

#[tokio::test]
async fn a_cost_budget_ships_the_most_accurate_policy_within_it() {
    let (train, test) = (outcomes(150, 0, 3), outcomes(100, 1000, 3));
    let embedder = HashingEmbedder::new(256);
    let opts = eval::Options { progress: false, folds: 3, target_cost: Some(0.5), ..eval::Options::default() };
    let r = eval::evaluate_task(&embedder, &train, &test, opts).await.unwrap();
    let budget = r.cost_budget.unwrap();
    assert!((budget - 0.5 * 0.02).abs() < 1e-12, "half the best model's mean cost");
    let shipped = cli::selected(&r).unwrap();
    assert!(shipped.train_point.cost <= budget + 1e-15, "{:?}", shipped.train_point);
    for p in r.policies.iter().filter(|p| p.train_point.cost <= budget + 1e-15) {
        assert!(p.train_point.quality <= shipped.train_point.quality, "{} was more accurate within budget", p.name);
    }
}
