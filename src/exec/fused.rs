//! Fused evaluation of an elementwise chain in L1-sized strips, the way numexpr does it.
//!
//! A reduction of `abs(x * 1.5 - 20)` evaluated node by node writes a whole tile per
//! operation: the first one streams the chunk from memory into a fresh buffer, and every
//! other one walks the tile again. Here the chain is compiled once per block into a small
//! tree ([`Fused`]) whose leaves are contiguous slices of the block's inputs or scalars,
//! then run over [`STRIP`] elements at a time: every intermediate stays in L1, each
//! operation is one tight loop (the `match` on the operation sits outside it), and nothing
//! is allocated per tile. Values are those of the node-by-node path, bit for bit: the same
//! element functions applied in the same order.
//!
//! Only chains the fast loops cover compile: every node of the reduction's element type,
//! operations that keep that type, and leaves that are contiguous over the block or a
//! single value. Anything else (broadcasting along an axis, casts, comparisons, `where`,
//! float functions such as `exp`) returns `None` and the caller evaluates node by node.

use std::ops::Range;

use multiversion::multiversion;

use super::eval::Leaves;
use crate::element::{prefetch_ahead, Kind, Num};
use crate::expr::plan::broadcast_region;
use crate::expr::{BinaryOp, LazyArray, Op, UnaryOp};

/// Elements per strip: a few KiB per intermediate, so a chain's buffers share L1.
pub(crate) const STRIP: usize = 512;

/// Where an operand's values come from.
#[derive(Clone, Copy)]
enum Src<'a, T> {
    /// Contiguous values over the whole block (C order), indexed like the output.
    Slice(&'a [T]),
    /// One value for every element.
    Scalar(T),
}

/// One node of a compiled chain.
enum Node<'a, T> {
    Leaf(Src<'a, T>),
    Unary(UnaryOp, Box<Node<'a, T>>),
    Binary(BinaryOp, Box<Node<'a, T>>, Box<Node<'a, T>>),
}

impl<'a, T> Node<'a, T> {
    /// Pushes the node's slice leaves onto `out`.
    fn slices(&self, out: &mut Vec<&'a [T]>) {
        match self {
            Node::Leaf(Src::Slice(s)) => out.push(s),
            Node::Leaf(Src::Scalar(_)) => {}
            Node::Unary(_, x) => x.slices(out),
            Node::Binary(_, a, b) => {
                a.slices(out);
                b.slices(out);
            }
        }
    }

    /// Scratch buffers this node needs beyond its output.
    fn scratch_depth(&self) -> usize {
        match self {
            Node::Leaf(_) => 0,
            Node::Unary(_, x) => x.scratch_depth(),
            Node::Binary(_, a, b) => {
                let computed = |n: &Node<'_, T>| !matches!(n, Node::Leaf(_));
                let extra = usize::from(computed(a) && computed(b));
                a.scratch_depth().max(b.scratch_depth() + extra)
            }
        }
    }
}

/// A compiled elementwise chain over one block, ready to fill any flat range of it.
pub(crate) struct Fused<'a, T> {
    root: Node<'a, T>,
    scratch: Vec<Vec<T>>,
    /// The chain's slice leaves, asked for ahead of each strip (they usually stream from a
    /// mapped file: see [`prefetch_ahead`]).
    streams: Vec<&'a [T]>,
}

fn unary_keeps_type(op: UnaryOp, kind: Kind) -> bool {
    use UnaryOp::*;
    match op {
        Neg | Abs | Square | Sign | Round | Floor | Ceil | Trunc => kind != Kind::Bool,
        _ => false,
    }
}

fn binary_keeps_type(op: BinaryOp, kind: Kind) -> bool {
    use BinaryOp::*;
    match op {
        Add | Sub | Mul | FloorDiv | Rem | Pow | Maximum | Minimum => kind != Kind::Bool,
        Div => kind == Kind::Float,
        _ => false,
    }
}

impl<'a, T: Num> Fused<'a, T> {
    /// Compiles the elementwise chain `array` for the block `region`, its leaves taken from
    /// `leaves` (evaluated for that block); `None` when the chain is not one the strip loops
    /// cover.
    pub(crate) fn compile(
        array: &LazyArray,
        region: &[Range<u64>],
        leaves: &'a Leaves,
    ) -> Option<Self> {
        let root = compile_node::<T>(array, region, leaves)?;
        // A lone leaf is not a chain: the node-by-node path reads it without copying.
        if matches!(root, Node::Leaf(_)) {
            return None;
        }
        let len = region
            .iter()
            .map(|r| (r.end - r.start) as usize)
            .product::<usize>();
        let width = STRIP.min(len);
        let scratch = (0..root.scratch_depth())
            .map(|_| vec![T::ZERO; width])
            .collect();
        let mut streams = Vec::new();
        root.slices(&mut streams);
        Some(Self {
            root,
            scratch,
            streams,
        })
    }

    /// Writes the chain's values at flat positions `start..start + out.len()` of the block
    /// into `out`.
    pub(crate) fn fill(&mut self, start: usize, out: &mut [T]) {
        for (k, strip) in out.chunks_mut(STRIP).enumerate() {
            let at = start + k * STRIP;
            for s in &self.streams {
                prefetch_ahead(s, at, strip.len());
            }
            eval(&self.root, at, strip, &mut self.scratch);
        }
    }
}

fn compile_node<'a, T: Num>(
    array: &LazyArray,
    region: &[Range<u64>],
    leaves: &'a Leaves,
) -> Option<Node<'a, T>> {
    if array.data_type() != T::DATA_TYPE {
        return None;
    }
    let kind = T::DATA_TYPE.kind();
    match &array.node.op {
        Op::Fill(fill) => Some(Node::Leaf(Src::Scalar(fill.get()?))),
        Op::Unary(op, x) if unary_keeps_type(*op, kind) => {
            Some(Node::Unary(*op, Box::new(compile_node(x, region, leaves)?)))
        }
        Op::Binary(op, a, b) if binary_keeps_type(*op, kind) => Some(Node::Binary(
            *op,
            Box::new(operand(a, region, leaves)?),
            Box::new(operand(b, region, leaves)?),
        )),
        op if super::eval::is_elementwise(op) || super::eval::is_generated(op) => None,
        _ => Some(Node::Leaf(Src::Slice(
            leaves.contiguous::<T>(array, region)?,
        ))),
    }
}

/// An operand of a binary operation over `region`: the same shape (compiled as a chain), or
/// broadcast from a single value; `None` when it broadcasts along an axis.
fn operand<'a, T: Num>(
    array: &LazyArray,
    region: &[Range<u64>],
    leaves: &'a Leaves,
) -> Option<Node<'a, T>> {
    let sub = broadcast_region(region, array.shape());
    if sub.len() == region.len() && sub == region {
        return compile_node(array, region, leaves);
    }
    if sub.iter().all(|r| r.end - r.start == 1) {
        if let Op::Fill(fill) = &array.node.op {
            return (array.data_type() == T::DATA_TYPE)
                .then(|| fill.get())
                .flatten()
                .map(|v| Node::Leaf(Src::Scalar(v)));
        }
        let one = leaves.contiguous::<T>(array, &sub)?;
        return one.first().map(|&v| Node::Leaf(Src::Scalar(v)));
    }
    None
}

/// The operand at flat position `at`, if it needs no computing.
fn source<'a, T: Copy>(node: &Node<'a, T>, at: usize, n: usize) -> Option<Src<'a, T>> {
    match node {
        Node::Leaf(Src::Slice(s)) => Some(Src::Slice(&s[at..at + n])),
        Node::Leaf(Src::Scalar(v)) => Some(Src::Scalar(*v)),
        _ => None,
    }
}

fn eval<T: Num>(node: &Node<'_, T>, at: usize, out: &mut [T], scratch: &mut [Vec<T>]) {
    let n = out.len();
    match node {
        Node::Leaf(Src::Slice(s)) => out.copy_from_slice(&s[at..at + n]),
        Node::Leaf(Src::Scalar(v)) => out.fill(*v),
        Node::Unary(op, x) => {
            let input = match source(x, at, n) {
                Some(src) => Arg::Src(src),
                None => {
                    eval(x, at, out, scratch);
                    Arg::Out
                }
            };
            unary(*op, input, out);
        }
        Node::Binary(op, a, b) => {
            let (lhs, rhs) = match (source(a, at, n), source(b, at, n)) {
                (Some(x), Some(y)) => (Arg::Src(x), Arg::Src(y)),
                (None, Some(y)) => {
                    eval(a, at, out, scratch);
                    (Arg::Out, Arg::Src(y))
                }
                (Some(x), None) => {
                    eval(b, at, out, scratch);
                    (Arg::Src(x), Arg::Out)
                }
                (None, None) => {
                    // `a` may use every scratch buffer; `b` then needs one for its values.
                    eval(a, at, out, scratch);
                    let (buf, rest) = scratch
                        .split_first_mut()
                        .expect("scratch sized by scratch_depth");
                    eval(b, at, &mut buf[..n], rest);
                    binary(*op, Arg::Out, Arg::Src(Src::Slice(&buf[..n])), out);
                    return;
                }
            };
            binary(*op, lhs, rhs, out);
        }
    }
}

/// An operation's input within one strip: a source, or the output buffer itself (already
/// holding the operand's values).
#[derive(Clone, Copy)]
enum Arg<'a, T> {
    Src(Src<'a, T>),
    Out,
}

/// One operation over a strip; this and [`binary`] are compiled for AVX-512 and AVX2 as
/// well as the baseline and chosen at run time (the same IEEE operations in the same order
/// on every path, so the same bits).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn unary<T: Num>(op: UnaryOp, x: Arg<'_, T>, out: &mut [T]) {
    match op {
        UnaryOp::Neg => map1(x, out, T::neg),
        UnaryOp::Abs => map1(x, out, T::abs),
        UnaryOp::Sign => map1(x, out, T::sign),
        UnaryOp::Square => map1(x, out, |v: T| v.mul(v)),
        UnaryOp::Round => map1(x, out, T::round),
        UnaryOp::Floor => map1(x, out, T::floor),
        UnaryOp::Ceil => map1(x, out, T::ceil),
        UnaryOp::Trunc => map1(x, out, T::trunc),
        other => unreachable!("{other:?} is not compiled into a fused chain"),
    }
}

#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn binary<T: Num>(op: BinaryOp, a: Arg<'_, T>, b: Arg<'_, T>, out: &mut [T]) {
    match op {
        BinaryOp::Add => map2(a, b, out, T::add),
        BinaryOp::Sub => map2(a, b, out, T::sub),
        BinaryOp::Mul => map2(a, b, out, T::mul),
        BinaryOp::Div => map2(a, b, out, T::div),
        BinaryOp::FloorDiv => map2(a, b, out, T::floor_div),
        BinaryOp::Rem => map2(a, b, out, T::rem),
        BinaryOp::Pow => map2(a, b, out, T::pow),
        BinaryOp::Maximum => map2(a, b, out, T::maximum),
        BinaryOp::Minimum => map2(a, b, out, T::minimum),
        other => unreachable!("{other:?} is not compiled into a fused chain"),
    }
}

#[inline(always)]
fn map1<T: Copy>(x: Arg<'_, T>, out: &mut [T], f: impl Fn(T) -> T) {
    match x {
        Arg::Out => out.iter_mut().for_each(|o| *o = f(*o)),
        Arg::Src(Src::Slice(s)) => out.iter_mut().zip(s).for_each(|(o, &v)| *o = f(v)),
        Arg::Src(Src::Scalar(v)) => out.fill(f(v)),
    }
}

#[inline(always)]
fn map2<T: Copy>(a: Arg<'_, T>, b: Arg<'_, T>, out: &mut [T], f: impl Fn(T, T) -> T) {
    use Arg::{Out, Src as S};
    use Src::{Scalar, Slice};
    match (a, b) {
        (Out, S(Slice(y))) => out.iter_mut().zip(y).for_each(|(o, &y)| *o = f(*o, y)),
        (Out, S(Scalar(y))) => out.iter_mut().for_each(|o| *o = f(*o, y)),
        (S(Slice(x)), Out) => out.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x, *o)),
        (S(Scalar(x)), Out) => out.iter_mut().for_each(|o| *o = f(x, *o)),
        (S(Slice(x)), S(Slice(y))) => out
            .iter_mut()
            .zip(x.iter().zip(y))
            .for_each(|(o, (&x, &y))| *o = f(x, y)),
        (S(Slice(x)), S(Scalar(y))) => out.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x, y)),
        (S(Scalar(x)), S(Slice(y))) => out.iter_mut().zip(y).for_each(|(o, &y)| *o = f(x, y)),
        (S(Scalar(x)), S(Scalar(y))) => out.fill(f(x, y)),
        (Out, Out) => out.iter_mut().for_each(|o| *o = f(*o, *o)),
    }
}
