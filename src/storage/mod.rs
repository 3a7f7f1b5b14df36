//! storage (see README.md, "Where things live").
