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
//! A linear chain, one array operand whose every operation takes the running value and at
//! most a scalar (`abs(x * 1.5 - 20)`, `(x - m) / s`), goes further ([`Line`]): it runs over
//! a few vectors of values at a time with every step applied while they sit in registers,
//! so each value is read once and written once whatever the chain's length. It takes only
//! operations whose element function is a few inline instructions (the table's `map`), not
//! those that call out of line (`exp`, `pow`, `%`, `//`: the table's `call`), which run in
//! the strip loops.
//!
//! Only chains the fast loops cover compile: every node of the reduction's element type
//! (not `bool`), operations whose result keeps that type (arithmetic, and float functions
//! such as `exp` on floats), and leaves that are contiguous over the block or a single
//! value. Anything else (broadcasting along an axis, casts, comparisons, `where`) returns
//! `None` and the caller evaluates node by node. Every operation takes its element function
//! from the table in `functions.rs`, as the plain kernels do.

use std::ops::Range;

use multiversion::multiversion;

use super::eval::Leaves;
use super::functions::{self, BinaryLoop, Function, Probe, UnaryLoop};
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
enum StripNode<'a, T> {
    Leaf(Src<'a, T>),
    Unary(UnaryOp, Box<StripNode<'a, T>>),
    Binary(BinaryOp, Box<StripNode<'a, T>>, Box<StripNode<'a, T>>),
}

impl<'a, T> StripNode<'a, T> {
    /// Scratch buffers this node needs beyond its output.
    fn scratch_depth(&self) -> usize {
        match self {
            StripNode::Leaf(_) => 0,
            StripNode::Unary(_, x) => x.scratch_depth(),
            StripNode::Binary(_, a, b) => {
                let computed = |n: &StripNode<'_, T>| !matches!(n, StripNode::Leaf(_));
                let extra = usize::from(computed(a) && computed(b));
                a.scratch_depth().max(b.scratch_depth() + extra)
            }
        }
    }
}

/// A compiled elementwise chain over one block, ready to fill any flat range of it.
pub(crate) struct Fused<'a, T> {
    root: StripNode<'a, T>,
    scratch: Vec<Vec<T>>,
    /// The chain as a [`Line`], when it is one: then it runs as one loop.
    line: Option<Line<'a, T>>,
}

/// Whether a chain of type `T` can hold `op`: its result keeps the type (the table says so),
/// and the type is not `bool` (whose arithmetic the strip loops do not cover).
fn unary_keeps_type<T: Num>(op: UnaryOp) -> bool {
    T::DATA_TYPE.kind() != Kind::Bool && functions::unary::<T, _>(op, Probe) != Function::Test
}

/// As [`unary_keeps_type`], for a two-operand operation.
fn binary_keeps_type<T: Num>(op: BinaryOp) -> bool {
    T::DATA_TYPE.kind() != Kind::Bool && functions::binary::<T, _>(op, Probe) != Function::Test
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
        if matches!(root, StripNode::Leaf(_)) {
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
        let line = Line::of(&root);
        Some(Self {
            root,
            scratch,
            line,
        })
    }

    /// Writes the chain's values at flat positions `start..start + out.len()` of the block
    /// into `out`.
    pub(crate) fn fill(&mut self, start: usize, out: &mut [T]) {
        for (k, strip) in out.chunks_mut(STRIP).enumerate() {
            let at = start + k * STRIP;
            match &self.line {
                Some(line) => run_line(&line.src[at..at + strip.len()], &line.steps, strip),
                None => eval(&self.root, at, strip, &mut self.scratch),
            }
        }
    }
}

fn compile_node<'a, T: Num>(
    array: &LazyArray,
    region: &[Range<u64>],
    leaves: &'a Leaves,
) -> Option<StripNode<'a, T>> {
    if array.data_type() != T::DATA_TYPE {
        return None;
    }
    match &array.node.op {
        Op::Fill(fill) => Some(StripNode::Leaf(Src::Scalar(fill.get()?))),
        Op::Unary(op, x) if unary_keeps_type::<T>(*op) => Some(StripNode::Unary(
            *op,
            Box::new(compile_node(x, region, leaves)?),
        )),
        Op::Binary(op, a, b) if binary_keeps_type::<T>(*op) => {
            let rhs = operand(b, region, leaves)?;
            // Signed integers to powers that are not one known non-negative value run node
            // by node, where the kernel refuses negative exponents (numpy's error).
            if *op == BinaryOp::Pow
                && T::DATA_TYPE.kind() == Kind::Signed
                && !matches!(rhs, StripNode::Leaf(Src::Scalar(e)) if e >= T::ZERO)
            {
                return None;
            }
            Some(StripNode::Binary(
                *op,
                Box::new(operand(a, region, leaves)?),
                Box::new(rhs),
            ))
        }
        op if super::eval::is_elementwise(op) || super::eval::is_generated(op) => None,
        _ => Some(StripNode::Leaf(Src::Slice(
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
) -> Option<StripNode<'a, T>> {
    let sub = broadcast_region(region, array.shape());
    if sub.len() == region.len() && sub == region {
        return compile_node(array, region, leaves);
    }
    if sub.iter().all(|r| r.end - r.start == 1) {
        if let Op::Fill(fill) = &array.node.op {
            return (array.data_type() == T::DATA_TYPE)
                .then(|| fill.get())
                .flatten()
                .map(|v| StripNode::Leaf(Src::Scalar(v)));
        }
        let one = leaves.contiguous::<T>(array, &sub)?;
        return one.first().map(|&v| StripNode::Leaf(Src::Scalar(v)));
    }
    None
}

/// The operand at flat position `at`, if it needs no computing.
fn source<'a, T: Copy>(node: &StripNode<'a, T>, at: usize, n: usize) -> Option<Src<'a, T>> {
    match node {
        StripNode::Leaf(Src::Slice(s)) => Some(Src::Slice(&s[at..at + n])),
        StripNode::Leaf(Src::Scalar(v)) => Some(Src::Scalar(*v)),
        _ => None,
    }
}

fn eval<T: Num>(node: &StripNode<'_, T>, at: usize, out: &mut [T], scratch: &mut [Vec<T>]) {
    let n = out.len();
    match node {
        StripNode::Leaf(Src::Slice(s)) => out.copy_from_slice(&s[at..at + n]),
        StripNode::Leaf(Src::Scalar(v)) => out.fill(*v),
        StripNode::Unary(op, x) => {
            let input = match source(x, at, n) {
                Some(src) => StripOperand::Src(src),
                None => {
                    eval(x, at, out, scratch);
                    StripOperand::Out
                }
            };
            unary(*op, input, out);
        }
        StripNode::Binary(op, a, b) => {
            let (lhs, rhs) = match (source(a, at, n), source(b, at, n)) {
                (Some(x), Some(y)) => (StripOperand::Src(x), StripOperand::Src(y)),
                (None, Some(y)) => {
                    eval(a, at, out, scratch);
                    (StripOperand::Out, StripOperand::Src(y))
                }
                (Some(x), None) => {
                    eval(b, at, out, scratch);
                    (StripOperand::Src(x), StripOperand::Out)
                }
                (None, None) => {
                    // `a` may use every scratch buffer; `b` then needs one for its values.
                    eval(a, at, out, scratch);
                    let (buf, rest) = scratch
                        .split_first_mut()
                        .expect("scratch sized by scratch_depth");
                    eval(b, at, &mut buf[..n], rest);
                    binary(
                        *op,
                        StripOperand::Out,
                        StripOperand::Src(Src::Slice(&buf[..n])),
                        out,
                    );
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
enum StripOperand<'a, T> {
    Src(Src<'a, T>),
    Out,
}

/// The strip loop of a one-operand operation: `out = f(x)`.
struct Strip1<'s, 'a, T> {
    x: StripOperand<'a, T>,
    out: &'s mut [T],
}

impl<T: Num> UnaryLoop<T> for Strip1<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn map(self, f: impl Fn(T) -> T + Copy + Send + Sync) {
        map1(self.x, self.out, f)
    }
    /// A predicate's `bool` as `T` (`astype`'s conversion). Chains hold only operations that
    /// keep their type ([`unary_keeps_type`]), so no chain runs this.
    #[inline(always)]
    fn test(self, f: impl Fn(T) -> bool + Copy + Send + Sync) {
        map1(self.x, self.out, |v| T::from_bool(f(v)))
    }
}

/// The strip loop of a two-operand operation: `out = f(a, b)`.
struct Strip2<'s, 'a, T> {
    a: StripOperand<'a, T>,
    b: StripOperand<'a, T>,
    out: &'s mut [T],
}

impl<T: Num> BinaryLoop<T> for Strip2<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn map(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) {
        map2(self.a, self.b, self.out, f)
    }
    /// As [`Strip1::test`]: no chain runs this ([`binary_keeps_type`]).
    #[inline(always)]
    fn test(self, f: impl Fn(T, T) -> bool + Copy + Send + Sync) {
        map2(self.a, self.b, self.out, |x, y| T::from_bool(f(x, y)))
    }
}

/// One operation over a strip; this and [`binary`] are compiled for AVX-512 and AVX2 as
/// well as the baseline and chosen at run time (the same IEEE operations in the same order
/// on every path, so the same bits).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn unary<T: Num>(op: UnaryOp, x: StripOperand<'_, T>, out: &mut [T]) {
    functions::unary::<T, _>(op, Strip1 { x, out })
}

#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn binary<T: Num>(op: BinaryOp, a: StripOperand<'_, T>, b: StripOperand<'_, T>, out: &mut [T]) {
    functions::binary::<T, _>(op, Strip2 { a, b, out })
}

/// Values in one vector register (of eight values for `f64` with AVX-512), and how many
/// such a linear chain carries through all its steps at once.
const WIDTH: usize = 8;
const VECTORS: usize = 4;
const LANES: usize = WIDTH * VECTORS;

/// One step of a [`Line`]: how the running value `v` becomes the next.
#[derive(Clone, Copy)]
enum Step<T> {
    /// `op(v)`.
    Unary(UnaryOp),
    /// `v op c`.
    Right(BinaryOp, T),
    /// `c op v`.
    Left(BinaryOp, T),
}

/// A chain with one slice leaf whose every operation takes the running value and at most a
/// scalar (`abs(x * 1.5 - 20)`) and runs in registers ([`Line::of`]): run over [`LANES`]
/// values at a time, all steps applied while they are in registers, so the values are
/// written once instead of once per step.
struct Line<'a, T> {
    src: &'a [T],
    steps: Vec<Step<T>>,
}

impl<'a, T: Num> Line<'a, T> {
    /// `node` as a linear chain, if it is one whose every operation the register loop runs:
    /// those whose element function is a few inline instructions ([`Function::Map`]). A
    /// call out of line in any arm of [`apply`]'s `match` has LLVM move all the vectors'
    /// values out of the registers, into scalar registers and the stack, before every step
    /// of every chain, and predicates change the type, which no chain holds.
    fn of(node: &StripNode<'a, T>) -> Option<Self> {
        let (inner, step) = match node {
            StripNode::Leaf(Src::Slice(src)) => {
                return Some(Self {
                    src,
                    steps: Vec::new(),
                })
            }
            StripNode::Leaf(Src::Scalar(_)) => return None,
            StripNode::Unary(op, _) if functions::unary::<T, _>(*op, Probe) != Function::Map => {
                return None
            }
            StripNode::Binary(op, ..) if functions::binary::<T, _>(*op, Probe) != Function::Map => {
                return None
            }
            StripNode::Unary(op, x) => (&**x, Step::Unary(*op)),
            StripNode::Binary(op, x, c) => match (&**x, &**c) {
                (x, StripNode::Leaf(Src::Scalar(c))) => (x, Step::Right(*op, *c)),
                (StripNode::Leaf(Src::Scalar(c)), x) => (x, Step::Left(*op, *c)),
                _ => return None,
            },
        };
        let mut line = Self::of(inner)?;
        line.steps.push(step);
        Some(line)
    }
}

/// One vector's values.
type Lanes<T> = [T; WIDTH];

/// The [`VECTORS`] vectors of values [`run_line`] carries: separate values rather than an
/// array, which LLVM keeps in registers through the loop over steps (an array it keeps on
/// the stack, at half the speed).
type Vectors<T> = (Lanes<T>, Lanes<T>, Lanes<T>, Lanes<T>);

/// The first [`LANES`] values of `s` as vectors.
#[inline(always)]
fn vectors<T: Copy>(s: &[T]) -> Vectors<T> {
    let lanes = |k: usize| -> Lanes<T> {
        s[k * WIDTH..(k + 1) * WIDTH]
            .try_into()
            .expect("WIDTH values")
    };
    (lanes(0), lanes(1), lanes(2), lanes(3))
}

/// Writes `v` into the first [`LANES`] values of `out`.
#[inline(always)]
fn store<T: Copy>(v: &Vectors<T>, out: &mut [T]) {
    out[..WIDTH].copy_from_slice(&v.0);
    out[WIDTH..2 * WIDTH].copy_from_slice(&v.1);
    out[2 * WIDTH..3 * WIDTH].copy_from_slice(&v.2);
    out[3 * WIDTH..LANES].copy_from_slice(&v.3);
}

/// `f` applied to every value of `v`.
#[inline(always)]
fn each<T: Copy>(v: &mut Vectors<T>, f: impl Fn(T) -> T) {
    #[inline(always)]
    fn lanes<T: Copy>(w: &mut Lanes<T>, f: &impl Fn(T) -> T) {
        w.iter_mut().for_each(|x| *x = f(*x));
    }
    lanes(&mut v.0, &f);
    lanes(&mut v.1, &f);
    lanes(&mut v.2, &f);
    lanes(&mut v.3, &f);
}

/// A one-operand step of a linear chain over the vectors in registers: `v = f(v)`.
struct Each<'v, T>(&'v mut Vectors<T>);

/// A two-operand step with a scalar on the right: `v = f(v, c)`.
struct Right<'v, T>(&'v mut Vectors<T>, T);

/// A two-operand step with a scalar on the left: `v = f(c, v)`.
struct Left<'v, T>(&'v mut Vectors<T>, T);

/// The arms of [`apply`] for operations [`Line::of`] refuses (its operations are [`Function::Map`]): no line
/// holds one, and a call that does not return keeps the vectors in registers where a
/// working arm would not.
#[cold]
#[inline(never)]
fn not_in_registers() -> ! {
    unreachable!("Line::of takes only operations the register loop runs")
}

impl<T: Num> UnaryLoop<T> for Each<'_, T> {
    type Output = ();
    #[inline(always)]
    fn map(self, f: impl Fn(T) -> T + Copy + Send + Sync) {
        each(self.0, f)
    }
    fn call(self, _: impl Fn(T) -> T + Copy + Send + Sync) {
        not_in_registers()
    }
    fn test(self, _: impl Fn(T) -> bool + Copy + Send + Sync) {
        not_in_registers()
    }
}

impl<T: Num> BinaryLoop<T> for Right<'_, T> {
    type Output = ();
    #[inline(always)]
    fn map(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) {
        let c = self.1;
        each(self.0, |x| f(x, c))
    }
    fn call(self, _: impl Fn(T, T) -> T + Copy + Send + Sync) {
        not_in_registers()
    }
    fn test(self, _: impl Fn(T, T) -> bool + Copy + Send + Sync) {
        not_in_registers()
    }
}

impl<T: Num> BinaryLoop<T> for Left<'_, T> {
    type Output = ();
    #[inline(always)]
    fn map(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) {
        let c = self.1;
        each(self.0, |x| f(c, x))
    }
    fn call(self, _: impl Fn(T, T) -> T + Copy + Send + Sync) {
        not_in_registers()
    }
    fn test(self, _: impl Fn(T, T) -> bool + Copy + Send + Sync) {
        not_in_registers()
    }
}

/// `v` after `step`, lane by lane.
#[inline(always)]
fn apply<T: Num>(step: Step<T>, v: &mut Vectors<T>) {
    match step {
        Step::Unary(op) => functions::unary::<T, _>(op, Each(v)),
        Step::Right(op, c) => functions::binary::<T, _>(op, Right(v, c)),
        Step::Left(op, c) => functions::binary::<T, _>(op, Left(v, c)),
    }
}

/// Writes the linear chain `steps` applied to `src` into `out` (the same length), asking
/// for `src`'s lines ahead as it goes: one prefetch per line in the loop that reads them
/// rather than a burst per strip, which stalls once the core's miss buffers are full.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn run_line<T: Num>(src: &[T], steps: &[Step<T>], out: &mut [T]) {
    let mut outs = out.chunks_exact_mut(LANES);
    let mut ins = src.chunks_exact(LANES);
    for (k, (o, s)) in (&mut outs).zip(&mut ins).enumerate() {
        prefetch_ahead(src, k * LANES, LANES);
        let mut v = vectors(s);
        // A plain loop: written as a closure, it has its vectors kept on the stack, at half
        // the speed.
        for &step in steps {
            apply(step, &mut v);
        }
        store(&v, o);
    }
    let (o, s) = (outs.into_remainder(), ins.remainder());
    if let Some(&last) = s.last() {
        // The spare lanes repeat a real value, so they compute nothing new.
        let mut padded = [last; LANES];
        padded[..s.len()].copy_from_slice(s);
        let mut v = vectors(&padded);
        for &step in steps {
            apply(step, &mut v);
        }
        store(&v, &mut padded);
        o.copy_from_slice(&padded[..o.len()]);
    }
}

impl<'a, T: Copy> StripOperand<'a, T> {
    /// The argument's values at `at..at + n` of the strip, and asks for a source's lines
    /// ahead of them.
    #[inline(always)]
    fn piece(self, at: usize, n: usize) -> Self {
        match self {
            StripOperand::Src(Src::Slice(s)) => {
                prefetch_ahead(s, at, n);
                StripOperand::Src(Src::Slice(&s[at..at + n]))
            }
            other => other,
        }
    }
}

/// Elements per piece of a strip that the operation loops prefetch for at once: the lines a
/// source leaf streams from (usually a mapped file) are asked for in the loop that reads
/// them, a few at a time, rather than a burst per strip (which stalls once the core's miss
/// buffers are full). As
/// many as a linear chain's loop carries.
const PIECE: usize = LANES;

#[inline(always)]
fn map1<T: Copy>(x: StripOperand<'_, T>, out: &mut [T], f: impl Fn(T) -> T) {
    for (k, o) in out.chunks_mut(PIECE).enumerate() {
        let n = o.len();
        map1_piece(x.piece(k * PIECE, n), o, &f);
    }
}

#[inline(always)]
fn map2<T: Copy>(
    a: StripOperand<'_, T>,
    b: StripOperand<'_, T>,
    out: &mut [T],
    f: impl Fn(T, T) -> T,
) {
    for (k, o) in out.chunks_mut(PIECE).enumerate() {
        let n = o.len();
        map2_piece(a.piece(k * PIECE, n), b.piece(k * PIECE, n), o, &f);
    }
}

#[inline(always)]
fn map1_piece<T: Copy>(x: StripOperand<'_, T>, out: &mut [T], f: impl Fn(T) -> T) {
    match x {
        StripOperand::Out => out.iter_mut().for_each(|o| *o = f(*o)),
        StripOperand::Src(Src::Slice(s)) => out.iter_mut().zip(s).for_each(|(o, &v)| *o = f(v)),
        StripOperand::Src(Src::Scalar(v)) => out.fill(f(v)),
    }
}

#[inline(always)]
fn map2_piece<T: Copy>(
    a: StripOperand<'_, T>,
    b: StripOperand<'_, T>,
    out: &mut [T],
    f: impl Fn(T, T) -> T,
) {
    use Src::{Scalar, Slice};
    use StripOperand::{Out, Src as S};
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
