//! The specialised agents, one file each: a node of the research graph.

pub mod analyst;
pub mod planner;
pub mod publisher;
pub mod researcher;
pub mod reviewer;
pub mod writer;
