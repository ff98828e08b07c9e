//! A workflow as a typed graph: named nodes over one state type `S`, edges that are fixed or
//! chosen from the state (conditional edges, loops), fan-out nodes that run branches
//! concurrently on copies of the state and merge them, a per-node [`StepPolicy`], and the
//! migrations that bring an older state version to the current one.

use crate::ctx::Ctx;
use crate::error::StepError;
use async_trait::async_trait;
use genai_core::backoff::Backoff;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The pseudo-node an edge points at to end the run.
pub const END: &str = "end";

// ANCHOR: node
/// One unit of work. It reads and changes the state, and does everything that touches the world
/// (models, tools, humans) through the [`Ctx`], which journals it.
///
/// The contract that makes replay exact: given the same state and the same results from `ctx`,
/// a node asks `ctx` for the same calls in the same order. Randomness and clocks go through
/// `ctx.call` too.
#[async_trait]
pub trait Node<S>: Send + Sync {
    async fn run(&self, state: &mut S, ctx: &Ctx) -> Result<(), StepError>;

    /// Undoes the step's completed side effects after it failed for good (a saga's
    /// compensation). The default has nothing to undo.
    async fn compensate(&self, _state: &S, _ctx: &Ctx, _error: &StepError) -> Result<(), StepError> {
        Ok(())
    }
}
// ANCHOR_END: node

/// A node from a plain function, for steps that only transform the state.
pub struct FnNode<F>(pub F);

#[async_trait]
impl<S, F> Node<S> for FnNode<F>
where
    S: Send + Sync,
    F: Fn(&mut S) -> Result<(), StepError> + Send + Sync,
{
    async fn run(&self, state: &mut S, _ctx: &Ctx) -> Result<(), StepError> {
        (self.0)(state)
    }
}

/// What a step may do when it fails. Defaults: 3 attempts with genai-core's jittered backoff
/// (250 ms base), a 120 s timeout per attempt, no fallback.
#[derive(Debug, Clone)]
pub struct StepPolicy {
    pub retry: Backoff,
    pub timeout: Duration,
    /// The node to go to when this one fails for good (a fallback agent), instead of failing
    /// the run. The state is the one the failed step started from.
    pub fallback: Option<String>,
}

impl Default for StepPolicy {
    fn default() -> Self {
        Self {
            retry: Backoff { max_attempts: 3, ..Backoff::default() },
            timeout: Duration::from_secs(120),
            fallback: None,
        }
    }
}

pub(crate) type Choose<S> = Arc<dyn Fn(&S) -> String + Send + Sync>;
pub(crate) type Merge<S> = Arc<dyn Fn(&mut S, Vec<S>) + Send + Sync>;
type Migration = Arc<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

pub(crate) enum Edge<S> {
    To(String),
    /// Conditional: `choose` names one of `targets`.
    Branch {
        targets: Vec<String>,
        choose: Choose<S>,
    },
}

pub(crate) enum Kind<S> {
    One(Arc<dyn Node<S>>),
    /// Branches run concurrently on copies of the state; `merge` folds their states into it.
    FanOut {
        branches: Vec<(String, Arc<dyn Node<S>>)>,
        merge: Merge<S>,
    },
}

pub(crate) struct Entry<S> {
    pub kind: Kind<S>,
    pub edge: Option<Edge<S>>,
    pub policy: StepPolicy,
}

/// A validated workflow graph. Build it with [`Graph::builder`].
pub struct Graph<S> {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) start: String,
    pub(crate) nodes: BTreeMap<String, Entry<S>>,
    /// `from version → migration to from + 1`.
    pub(crate) migrations: BTreeMap<u32, Migration>,
}

impl<S> std::fmt::Debug for Graph<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").field("name", &self.name).field("version", &self.version).finish_non_exhaustive()
    }
}

/// Why a graph does not validate.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("node {0} is defined twice")]
    Duplicate(String),
    #[error("edge from {from} points at unknown node {to}")]
    UnknownTarget { from: String, to: String },
    #[error("node {0} has no outgoing edge (point it at END to finish)")]
    NoEdge(String),
    #[error("an edge leaves unknown node {0}")]
    UnknownSource(String),
    #[error("migration from version {0} is missing (the state is version {1})")]
    MissingMigration(u32, u32),
}

/// Builds a [`Graph`].
pub struct Builder<S> {
    graph: Graph<S>,
    errors: Vec<GraphError>,
}

impl<S: 'static> Graph<S> {
    /// A graph named `name` whose state is schema version `version`, starting at `start`.
    pub fn builder(name: &str, version: u32, start: &str) -> Builder<S> {
        Builder {
            graph: Graph {
                name: name.into(),
                version,
                start: start.into(),
                nodes: BTreeMap::new(),
                migrations: BTreeMap::new(),
            },
            errors: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Nodes and edges, for pages and docs.
    pub fn spec(&self) -> GraphSpec {
        let mut edges = Vec::new();
        for (from, e) in &self.nodes {
            match &e.edge {
                Some(Edge::To(to)) => edges.push(SpecEdge { from: from.clone(), to: to.clone(), conditional: false }),
                Some(Edge::Branch { targets, .. }) => edges.extend(targets.iter().map(|to| SpecEdge {
                    from: from.clone(),
                    to: to.clone(),
                    conditional: true,
                })),
                None => {}
            }
        }
        let nodes = self
            .nodes
            .iter()
            .map(|(name, e)| SpecNode {
                name: name.clone(),
                branches: match &e.kind {
                    Kind::One(_) => Vec::new(),
                    Kind::FanOut { branches, .. } => branches.iter().map(|(n, _)| n.clone()).collect(),
                },
            })
            .collect();
        GraphSpec { name: self.name.clone(), version: self.version, start: self.start.clone(), nodes, edges }
    }

    /// Brings a stored state from `from` to this graph's version, one migration at a time.
    pub(crate) fn migrate(&self, from: u32, mut state: Value) -> Result<Value, String> {
        if from > self.version {
            return Err(format!("the journal is newer than this code (version {})", self.version));
        }
        for v in from..self.version {
            let m = self.migrations.get(&v).ok_or_else(|| format!("no migration from version {v}"))?;
            state = m(state).map_err(|e| format!("migration from version {v}: {e}"))?;
        }
        Ok(state)
    }
}

impl<S: 'static> Builder<S> {
    fn add(mut self, name: &str, kind: Kind<S>) -> Self {
        if name == END || self.graph.nodes.contains_key(name) {
            self.errors.push(GraphError::Duplicate(name.into()));
        }
        self.graph.nodes.insert(name.into(), Entry { kind, edge: None, policy: StepPolicy::default() });
        self
    }

    pub fn node(self, name: &str, node: impl Node<S> + 'static) -> Self {
        self.add(name, Kind::One(Arc::new(node)))
    }

    /// A node that runs `branches` concurrently on copies of the state, then `merge`s their
    /// states into the state (fan-out, fan-in). One step in the journal; each branch's calls are
    /// journaled under its own name.
    pub fn fan_out(
        self,
        name: &str,
        branches: Vec<(&str, Arc<dyn Node<S>>)>,
        merge: impl Fn(&mut S, Vec<S>) + Send + Sync + 'static,
    ) -> Self {
        let branches = branches.into_iter().map(|(n, b)| (n.to_string(), b)).collect();
        self.add(name, Kind::FanOut { branches, merge: Arc::new(merge) })
    }

    fn set_edge(mut self, from: &str, edge: Edge<S>) -> Self {
        match self.graph.nodes.get_mut(from) {
            Some(e) => e.edge = Some(edge),
            None => self.errors.push(GraphError::UnknownSource(from.into())),
        }
        self
    }

    pub fn edge(self, from: &str, to: &str) -> Self {
        self.set_edge(from, Edge::To(to.into()))
    }

    /// A conditional edge: `choose` returns one of `targets` (a name outside them fails the run
    /// at that step, never silently jumps).
    pub fn branch(self, from: &str, targets: &[&str], choose: impl Fn(&S) -> String + Send + Sync + 'static) -> Self {
        let targets = targets.iter().map(|t| t.to_string()).collect();
        self.set_edge(from, Edge::Branch { targets, choose: Arc::new(choose) })
    }

    pub fn policy(mut self, node: &str, policy: StepPolicy) -> Self {
        match self.graph.nodes.get_mut(node) {
            Some(e) => e.policy = policy,
            None => self.errors.push(GraphError::UnknownSource(node.into())),
        }
        self
    }

    /// How a state stored at `from` becomes version `from + 1`.
    pub fn migration(
        mut self,
        from: u32,
        migrate: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.graph.migrations.insert(from, Arc::new(migrate));
        self
    }

    pub fn build(mut self) -> Result<Graph<S>, GraphError> {
        let g = &self.graph;
        let known = |n: &str| n == END || g.nodes.contains_key(n);
        if !g.nodes.contains_key(&g.start) {
            self.errors.push(GraphError::UnknownTarget { from: "start".into(), to: g.start.clone() });
        }
        for (name, e) in &g.nodes {
            let targets: Vec<&String> = match &e.edge {
                None => {
                    self.errors.push(GraphError::NoEdge(name.clone()));
                    continue;
                }
                Some(Edge::To(t)) => vec![t],
                Some(Edge::Branch { targets, .. }) => targets.iter().collect(),
            };
            let fallback = e.policy.fallback.iter();
            for t in targets.into_iter().chain(fallback) {
                if !known(t) {
                    self.errors.push(GraphError::UnknownTarget { from: name.clone(), to: t.clone() });
                }
            }
        }
        if let Some(first) = (g.migrations.keys().next().copied()).filter(|_| g.version > 1) {
            for v in first..g.version {
                if !g.migrations.contains_key(&v) {
                    self.errors.push(GraphError::MissingMigration(v, g.version));
                }
            }
        }
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(self.graph),
        }
    }
}

/// A graph's shape: what `/agents` draws.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GraphSpec {
    pub name: String,
    pub version: u32,
    pub start: String,
    pub nodes: Vec<SpecNode>,
    pub edges: Vec<SpecEdge>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpecNode {
    pub name: String,
    /// The branches of a fan-out node.
    pub branches: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpecEdge {
    pub from: String,
    pub to: String,
    pub conditional: bool,
}
