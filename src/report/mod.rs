//! The run report. SKELETON.
