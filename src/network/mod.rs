//! network (see README.md, "Where things live").
