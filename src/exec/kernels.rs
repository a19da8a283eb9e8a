//! Elementwise kernels over blocks: the operation's element function comes from the table in
//! `functions.rs`, whose `match` sits outside each loop, so every loop is a tight,
//! vectorisable map over contiguous memory (or ndarray's `Zip`). Results reuse
//! an operand's buffer when the block owns one.

use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

use super::functions::{self, BinaryLoop, UnaryLoop};
use crate::element::{DataType, Element, Kind, Num};
use crate::error::{invalid, Result};
use crate::expr::{negative_integer_power, BinaryOp, Block, UnaryOp};
use crate::with_element_type;

/// `f` applied to every element, in place when the block owns its buffer.
fn map_same<T: Element>(block: Block, f: impl Fn(T) -> T + Sync + Send) -> Result<Block> {
    Ok(match block.try_into_owned::<T>() {
        Ok(mut owned) => {
            owned.mapv_inplace(f);
            Block::from_array(owned)
        }
        Err(block) => Block::from_array(block.view::<T>()?.mapv(f)),
    })
}

fn map_to<T: Element, U: Element>(block: &Block, f: impl Fn(T) -> U) -> Result<Block> {
    Ok(Block::from_array(block.view::<T>()?.mapv(f)))
}

/// Converts a block to `to` with `astype` semantics.
pub(crate) fn cast(block: Block, to: DataType) -> Result<Block> {
    if block.data_type() == to {
        return Ok(block);
    }
    with_element_type!(block.data_type(), S => {
        with_element_type!(to, D => map_to::<S, D>(&block, |v| v.cast::<D>()))
    })
}

/// The block loops of a one-operand function: in place into an owned buffer when the
/// result keeps the type.
struct BlockUnary(Block);

impl<T: Num> UnaryLoop<T> for BlockUnary {
    type Output = Result<Block>;
    fn map(self, f: impl Fn(T) -> T + Copy + Send + Sync) -> Result<Block> {
        map_same(self.0, f)
    }
    fn test(self, f: impl Fn(T) -> bool + Copy + Send + Sync) -> Result<Block> {
        map_to(&self.0, f)
    }
}

/// Applies a one-operand function to a block already of the function's input type.
pub(crate) fn unary(op: UnaryOp, block: Block) -> Result<Block> {
    with_element_type!(block.data_type(), T => functions::unary::<T, _>(op, BlockUnary(block)))
}

fn wide<'a, T: Element>(view: &'a ArrayViewD<'_, T>, shape: &[usize]) -> Result<ArrayViewD<'a, T>> {
    view.broadcast(IxDyn(shape))
        .ok_or_else(|| invalid(format!("cannot broadcast {:?} to {shape:?}", view.shape())))
}

/// An operand seen the way the fast loops want it.
enum Lane<'a, T> {
    /// Contiguous, already of the result's shape.
    Slice(&'a [T]),
    /// One value, broadcast.
    Scalar(T),
}

impl<'a, T: Element> Lane<'a, T> {
    fn of(view: &'a ArrayViewD<'_, T>, shape: &[usize]) -> Option<Self> {
        if view.len() == 1 {
            return view.iter().next().map(|&v| Lane::Scalar(v));
        }
        if view.shape() != shape {
            return None;
        }
        view.as_slice().map(Lane::Slice)
    }

    #[inline(always)]
    fn at(&self, i: usize) -> T {
        match self {
            Lane::Slice(s) => s[i],
            Lane::Scalar(v) => *v,
        }
    }
}

/// `f(a, b)` broadcast to `shape`. Contiguous operands and scalars (nearly every case) go
/// through plain slice loops, which vectorise; anything else through ndarray's `Zip`.
fn map2<T: Element, U: Element>(
    a: &ArrayViewD<'_, T>,
    b: &ArrayViewD<'_, T>,
    shape: &[usize],
    f: impl Fn(T, T) -> U,
) -> Result<ArrayD<U>> {
    let out: Vec<U> = match (Lane::of(a, shape), Lane::of(b, shape)) {
        (Some(Lane::Slice(x)), Some(Lane::Slice(y))) => {
            x.iter().zip(y).map(|(&x, &y)| f(x, y)).collect()
        }
        (Some(Lane::Slice(x)), Some(Lane::Scalar(y))) => x.iter().map(|&x| f(x, y)).collect(),
        (Some(Lane::Scalar(x)), Some(Lane::Slice(y))) => y.iter().map(|&y| f(x, y)).collect(),
        _ => {
            let (va, vb) = (wide(a, shape)?, wide(b, shape)?);
            return Ok(Zip::from(&va).and(&vb).map_collect(|&x, &y| f(x, y)));
        }
    };
    Ok(ArrayD::from_shape_vec(IxDyn(shape), out).expect("sized to shape"))
}

/// `f(a, b)` over two blocks of type `T` broadcast to `shape`, into `a`'s buffer when it
/// owns one of that shape.
fn zip_same<T: Element>(
    a: Block,
    b: &Block,
    shape: &[usize],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Result<Block> {
    let b = b.view::<T>()?;
    match a.try_into_owned::<T>() {
        Ok(mut owned) if owned.shape() == shape => {
            let x = owned.as_slice_mut().expect("standard layout");
            match Lane::of(&b, shape) {
                Some(Lane::Slice(y)) => x.iter_mut().zip(y).for_each(|(x, &y)| *x = f(*x, y)),
                Some(Lane::Scalar(y)) => x.iter_mut().for_each(|x| *x = f(*x, y)),
                None => Zip::from(&mut owned)
                    .and(&wide(&b, shape)?)
                    .for_each(|x, &y| *x = f(*x, y)),
            }
            Ok(Block::from_array(owned))
        }
        Ok(owned) => Ok(Block::from_array(map2(&owned.view(), &b, shape, f)?)),
        Err(a) => Ok(Block::from_array(map2(&a.view::<T>()?, &b, shape, f)?)),
    }
}

fn zip_to<T: Element, U: Element>(
    a: &Block,
    b: &Block,
    shape: &[usize],
    f: impl Fn(T, T) -> U,
) -> Result<Block> {
    Ok(Block::from_array(map2(
        &a.view::<T>()?,
        &b.view::<T>()?,
        shape,
        f,
    )?))
}

/// The block loops of a two-operand function broadcast to `shape`: into `a`'s buffer when
/// the result keeps the type.
struct BlockBinary<'a> {
    a: Block,
    b: &'a Block,
    shape: &'a [usize],
}

impl<T: Num> BinaryLoop<T> for BlockBinary<'_> {
    type Output = Result<Block>;
    fn map(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) -> Result<Block> {
        zip_same(self.a, self.b, self.shape, f)
    }
    fn test(self, f: impl Fn(T, T) -> bool + Copy + Send + Sync) -> Result<Block> {
        zip_to(&self.a, self.b, self.shape, f)
    }
}

/// Applies a two-operand function to blocks of the operation's compute type, broadcast to
/// `shape`.
pub(crate) fn binary(op: BinaryOp, a: Block, b: Block, shape: &[usize]) -> Result<Block> {
    if a.data_type() != b.data_type() {
        return exact_integer_comparison(op, &a, &b, shape);
    }
    if op == BinaryOp::Pow && b.data_type().kind() == Kind::Signed {
        with_element_type!(b.data_type(), T => {
            if b.view::<T>()?.iter().any(|&e| e.as_i64() < 0) {
                return Err(negative_integer_power());
            }
        });
    }
    let l = BlockBinary { a, b: &b, shape };
    with_element_type!(l.a.data_type(), T => functions::binary::<T, _>(op, l))
}

/// A comparison of `int64` with `uint64` blocks (the builder arranges the types), exact.
fn exact_integer_comparison(op: BinaryOp, a: &Block, b: &Block, shape: &[usize]) -> Result<Block> {
    fn as_i128<T: Num>(v: T) -> i128 {
        match T::DATA_TYPE.kind() {
            crate::element::Kind::Unsigned => i128::from(v.as_u64()),
            _ => i128::from(v.as_i64()),
        }
    }
    let cmp: fn(i128, i128) -> bool = match op {
        BinaryOp::Eq => |x, y| x == y,
        BinaryOp::Ne => |x, y| x != y,
        BinaryOp::Lt => |x, y| x < y,
        BinaryOp::Le => |x, y| x <= y,
        BinaryOp::Gt => |x, y| x > y,
        BinaryOp::Ge => |x, y| x >= y,
        other => {
            return Err(invalid(format!(
                "{other:?} of {} and {} blocks",
                a.data_type(),
                b.data_type()
            )))
        }
    };
    with_element_type!(a.data_type(), A => with_element_type!(b.data_type(), B => {
        let (a, b) = (a.view::<A>()?, b.view::<B>()?);
        let (va, vb) = (wide(&a, shape)?, wide(&b, shape)?);
        Ok(Block::from_array(
            Zip::from(&va).and(&vb).map_collect(|&x, &y| cmp(as_i128(x), as_i128(y))),
        ))
    }))
}

/// `numpy.where` over blocks (`cond` is `bool`; `a` and `b` share a type).
pub(crate) fn select(cond: &Block, a: &Block, b: &Block, shape: &[usize]) -> Result<Block> {
    let cond = cond.view::<bool>()?;
    with_element_type!(a.data_type(), T => {
        let (a, b) = (a.view::<T>()?, b.view::<T>()?);
        if let (Some(c), Some(x), Some(y)) =
            (Lane::of(&cond, shape), Lane::of(&a, shape), Lane::of(&b, shape))
        {
            let n: usize = shape.iter().product();
            let out: Vec<T> = (0..n).map(|i| if c.at(i) { x.at(i) } else { y.at(i) }).collect();
            return Ok(Block::from_array(
                ArrayD::from_shape_vec(IxDyn(shape), out).expect("sized to shape"),
            ));
        }
        let vc = wide(&cond, shape)?;
        let (va, vb) = (wide(&a, shape)?, wide(&b, shape)?);
        Ok(Block::from_array(
            Zip::from(&vc).and(&va).and(&vb).map_collect(|&c, &x, &y| if c { x } else { y }),
        ))
    })
}

/// A block of `shape` filled with `value`.
pub(crate) fn filled<T: Element>(shape: &[usize], value: T) -> Block {
    Block::from_array(ArrayD::from_elem(IxDyn(shape), value))
}
