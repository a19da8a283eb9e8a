//! Lazy arrays of huge shapes (up to `u64::MAX` per axis, more than 2^64 elements): every
//! builder and shape operation either builds at once, in a few words of memory, or returns
//! `Err` naming the operation — never a panic or an abort. A small region of a huge array
//! computes the right values: random arrays are compared with a small array of the same seed
//! at the same positions (values depend only on (seed, flat index mod 2^64)).

use std::time::{Duration, Instant};

use outcore::ndarray::{s, ArrayD, IxDyn};
use outcore::BinaryOp;
use outcore::{random, Axes, DataType, Error, LazyArray};

const HUGE: u64 = u64::MAX;

fn f64s(x: &LazyArray) -> Vec<f64> {
    x.to_ndarray::<f64>()
        .expect("a small region computes")
        .into_raw_vec_and_offset()
        .0
}

fn is_invalid<T: std::fmt::Debug>(r: outcore::Result<T>, names: &str) {
    match r {
        Err(Error::Argument { message, .. }) => {
            assert!(message.contains(names), "{message:?} should name {names:?}")
        }
        other => panic!("expected an argument error naming {names:?}, got {other:?}"),
    }
}

/// The first value of a 1-d random array of `u64::MAX` elements at flat index `k`: 1-d, so
/// the index is the position; addressed from the end once it passes `isize::MAX`.
fn uniform_at(seed: u64, k: u64) -> f64 {
    let line = random::uniform(seed, &[HUGE], 0.0, 1.0).unwrap();
    let part = if k <= i64::MAX as u64 {
        line.slice(s![k as isize..k as isize + 1])
    } else {
        let back = (k as i128 - HUGE as i128) as isize;
        line.slice(s![back..back + 1])
    };
    f64s(&part.unwrap())[0]
}

#[test]
fn a_dask_sized_random_array_builds_at_once_and_its_corners_compute() {
    let start = Instant::now();
    let shape = [1_000_000_000_000_000, 100_000];
    let x = random::uniform(7, &shape, 0.0, 1.0).unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(x.checked_len(), None, "10^23 elements");
    assert_eq!(x.len(), u64::MAX, "saturates");
    assert_eq!(x.nbytes(), u64::MAX);
    let grid = x.block_grid();
    assert!(grid.checked_num_blocks().is_some());
    assert_eq!(
        grid.num_blocks(),
        grid.axis(0).num_blocks() * grid.axis(1).num_blocks()
    );
    let last = grid.block_region_at(grid.num_blocks() - 1);
    assert_eq!(last[0].end, shape[0]);
    assert_eq!(last[1].end, shape[1]);

    // Near the origin, flat indices equal those of a small array of the same seed.
    let small = random::uniform(7, &[10, 100_000], 0.0, 1.0).unwrap();
    for region in [s![3..6, 99_990..], s![..2, 5..9], s![9..10, 17..20]] {
        assert_eq!(
            f64s(&x.slice(region).unwrap()),
            f64s(&small.slice(region).unwrap())
        );
    }
    assert_eq!(
        f64s(&x.slice(s![9, 17..20]).unwrap()),
        f64s(&small.slice(s![9, 17..20]).unwrap())
    );
    assert_eq!(
        x.slice(s![..2, ..])
            .unwrap()
            .mean(Axes::all())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap(),
        small
            .slice(s![..2, ..])
            .unwrap()
            .mean(Axes::all())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    );
    // Far away, the flat index wraps modulo 2^64, as the generator's period does.
    let far = x.slice(s![-2.., 40..42]).unwrap();
    let got = f64s(&far);
    for (i, row) in [shape[0] - 2, shape[0] - 1].into_iter().enumerate() {
        for (j, col) in [40u64, 41].into_iter().enumerate() {
            let flat = row.wrapping_mul(shape[1]).wrapping_add(col);
            assert_eq!(got[i * 2 + j], uniform_at(7, flat), "({row}, {col})");
        }
    }
    // Stepped and reversed selections of the huge axis build and compute too.
    let stepped = x.slice(s![1..;3, 7]).unwrap();
    assert_eq!(stepped.shape(), &[(shape[0] - 1).div_ceil(3)]);
    let want: Vec<f64> = (0..3)
        .flat_map(|k| f64s(&small.slice(s![1 + 3 * k..2 + 3 * k, 7]).unwrap()))
        .collect();
    assert_eq!(f64s(&stepped.slice(s![..3]).unwrap()), want);
    let reversed = x.slice(s![..;-1, 0]).unwrap();
    assert_eq!(
        f64s(&reversed.slice(s![-1..]).unwrap()),
        f64s(&small.slice(s![0..1, 0]).unwrap())
    );
}

#[test]
fn rechunking_u64_max_rows_into_single_elements_is_lazy() {
    let x = LazyArray::zeros(&[HUGE, 1], DataType::UInt8);
    let r = x.rechunk(&[1, 1]).unwrap();
    let grid = r.block_grid();
    assert_eq!(grid.num_blocks(), HUGE);
    assert_eq!(grid.block_region_at(HUGE - 1), vec![HUGE - 1..HUGE, 0..1]);
    assert_eq!(grid.blocks_touching(0, &(10..20)), 10..20);
    let tail = r.slice(s![-3.., ..]).unwrap();
    assert_eq!(
        tail.to_ndarray::<u8>().unwrap(),
        ArrayD::<u8>::zeros(IxDyn(&[3, 1]))
    );
    let first: Vec<_> = r.blocks().take(3).map(|b| b.unwrap().0).collect();
    assert_eq!(
        first,
        vec![vec![0..1, 0..1], vec![1..2, 0..1], vec![2..3, 0..1]]
    );
    is_invalid(r.to_ndarray::<u8>(), "to_ndarray");

    // Two columns of single elements: more blocks than a pass can count.
    let wide = LazyArray::zeros(&[HUGE, 2], DataType::UInt8)
        .rechunk(&[1, 1])
        .unwrap();
    assert_eq!(wide.block_grid().checked_num_blocks(), None);
    is_invalid(wide.blocks().next().unwrap(), "blocks");
    is_invalid(
        wide.compute().for_each_block(|_, _| Ok(())),
        "for_each_block",
    );
    // One block of u64::MAX elements cannot be held.
    let whole = x.rechunk(&[HUGE, 1]).unwrap();
    is_invalid(whole.blocks().next().unwrap(), "a block");
    assert_eq!(
        f64s(&whole.slice(s![5..7, ..]).unwrap().astype(DataType::Float64)),
        [0.0, 0.0]
    );
}

#[test]
fn sources_of_huge_sizes_build_and_their_ends_compute() {
    let z = LazyArray::zeros(&[HUGE, HUGE], DataType::Float64);
    assert_eq!(f64s(&z.slice(s![-1.., -2..]).unwrap()), [0.0, 0.0]);
    let o = LazyArray::ones(&[HUGE, HUGE, 3], DataType::Int32);
    assert_eq!(
        o.slice(s![7, 9, ..])
            .unwrap()
            .to_ndarray::<i32>()
            .unwrap()
            .len(),
        3
    );
    let f = LazyArray::full(&[HUGE], 2.5f64);
    assert_eq!(f64s(&f.slice(s![-1..]).unwrap()), [2.5]);

    let a = LazyArray::arange(i64::MIN, i64::MAX, 1).unwrap();
    assert_eq!(a.shape(), &[HUGE]);
    let tail = a.slice(s![-3..]).unwrap().to_ndarray::<i64>().unwrap();
    assert_eq!(
        tail.into_raw_vec_and_offset().0,
        [i64::MAX - 3, i64::MAX - 2, i64::MAX - 1]
    );
    let back = a.slice(s![..;-1]).unwrap().slice(s![..2]).unwrap();
    assert_eq!(
        back.to_ndarray::<i64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        [i64::MAX - 1, i64::MAX - 2]
    );
    let floats = LazyArray::arange(0.0, 1e300, 1e-300).unwrap();
    assert_eq!(floats.shape(), &[HUGE]);
    assert_eq!(f64s(&floats.slice(s![..2]).unwrap()), [0.0, 1e-300]);
    let l = LazyArray::linspace(0.0, 1.0, HUGE, true).unwrap();
    assert_eq!(f64s(&l.slice(s![-1..]).unwrap()), [1.0]);
    assert_eq!(f64s(&l.slice(s![..1]).unwrap()), [0.0]);
    for seed in [1, 2] {
        let n = random::normal(seed, &[HUGE, HUGE], 0.0, 1.0).unwrap();
        let k = random::integers(seed, &[HUGE, HUGE], -5, 5).unwrap();
        let small_n = random::normal(seed, &[1, HUGE], 0.0, 1.0).unwrap();
        assert_eq!(
            f64s(&n.slice(s![0, 3..6]).unwrap()),
            f64s(&small_n.slice(s![0, 3..6]).unwrap())
        );
        assert_eq!(
            k.slice(s![-1, -1..])
                .unwrap()
                .to_ndarray::<i64>()
                .unwrap()
                .len(),
            1
        );
    }
}

#[test]
fn shape_operations_on_huge_shapes_build_or_err() {
    let x = LazyArray::zeros(&[HUGE, 1], DataType::Float64);
    let y = LazyArray::ones(&[1, HUGE], DataType::Float64);
    // Broadcasting two huge operands: 2^128 elements, still lazy.
    let sum = LazyArray::binary(BinaryOp::Add, &x, &y).unwrap();
    assert_eq!(sum.shape(), &[HUGE, HUGE]);
    assert_eq!(f64s(&sum.slice(s![-2.., 5..7]).unwrap()), [1.0; 4]);
    let b = x.broadcast_to(&[3, HUGE, HUGE]).unwrap();
    assert_eq!(f64s(&b.slice(s![2, -1, ..2]).unwrap()), [0.0, 0.0]);
    let w = LazyArray::where_(&sum.astype(DataType::Bool), &sum, 0.0).unwrap();
    assert_eq!(
        f64s(&w.clip(0.0, 0.5).unwrap().slice(s![0, ..1]).unwrap()),
        [0.5]
    );
    let t = sum
        .transpose()
        .unwrap()
        .expand_dims(0)
        .unwrap()
        .squeeze(None)
        .unwrap();
    assert_eq!(t.shape(), &[HUGE, HUGE]);
    let doubled = x
        .map_blocks(|v: outcore::ndarray::ArrayViewD<'_, f64>, _| Ok(v.mapv(|e| e + 2.0)))
        .unwrap();
    assert_eq!(f64s(&doubled.slice(s![-1.., ..]).unwrap()), [2.0]);
    let st = LazyArray::stack(&[sum.clone(), sum.clone()], 1).unwrap();
    assert_eq!(st.shape(), &[HUGE, 2, HUGE]);

    // Reshapes that move flat positions past 2^64 cannot be addressed.
    is_invalid(sum.reshape(&[-1]), "reshape");
    is_invalid(sum.reshape(&[1, -1, 1]), "reshape");
    is_invalid(
        LazyArray::zeros(&[4], DataType::Int8).reshape(&[-1, 1 << 40, 1 << 40]),
        "reshape",
    );
    let flat = LazyArray::zeros(&[1 << 31, 1 << 31], DataType::Int8)
        .reshape(&[-1])
        .unwrap();
    assert_eq!(flat.shape(), &[1 << 62]);
    assert_eq!(
        flat.slice(s![-3..])
            .unwrap()
            .to_ndarray::<i8>()
            .unwrap()
            .len(),
        3
    );

    // Concatenation: lengths that overflow, lists too long, and regular parts that join.
    let bytes = |len: u64, step: u64| {
        LazyArray::zeros(&[len], DataType::UInt8)
            .rechunk(&[step])
            .unwrap()
    };
    let half = bytes(HUGE / 2 + 1, 1 << 20);
    let odd = bytes(1 << 40, 3);
    for parts in [[&half, &half], [&odd, &odd]] {
        let parts = parts.map(LazyArray::clone);
        is_invalid(LazyArray::concatenate(&parts, 0), "concatenate");
    }
    let (even, end) = (bytes(1 << 40, 4), bytes(7, 4));
    let joined = LazyArray::concatenate(&[even.clone(), even, end], 0).unwrap();
    let along = joined.block_grid().axis(0);
    assert_eq!(along.num_blocks(), 2 * (1 << 38) + 2);
    assert_eq!(along.block(1 << 39), 1 << 41..(1 << 41) + 4);
    assert_eq!(along.block((1 << 39) + 1), (1 << 41) + 4..(1 << 41) + 7);

    // Reductions build; results too large for memory are errors when computed.
    let col = sum.sum(0).unwrap();
    assert_eq!(col.shape(), &[HUGE]);
    is_invalid(col.to_ndarray::<f64>(), "to_ndarray");
    is_invalid(sum.argmax(Axes::all()), "ArgMax");
    is_invalid(sum.count_nonzero(0), "CountNonzero");
    assert_eq!(
        sum.slice(s![..3, ..4])
            .unwrap()
            .sum(Axes::all())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap(),
        12.0
    );
    let colmeans = sum.slice(s![..3, -2..]).unwrap().mean(0).unwrap();
    assert_eq!(f64s(&colmeans), [1.0, 1.0]);
}

#[test]
fn results_too_large_for_memory_are_errors() {
    // 2^53 bytes: within isize, beyond any address space.
    is_invalid(
        LazyArray::zeros(&[1 << 50], DataType::Float64).to_ndarray::<f64>(),
        "does not fit",
    );
    is_invalid(
        LazyArray::zeros(&[1 << 62], DataType::Float64).to_ndarray::<f64>(),
        "to_ndarray",
    );
    is_invalid(
        LazyArray::zeros(&[HUGE, 0], DataType::Int8).to_ndarray::<i8>(),
        "to_ndarray",
    );
    let tall = LazyArray::zeros(&[1 << 46, 0], DataType::Float64);
    is_invalid(tall.sum(1).unwrap().to_ndarray::<f64>(), "to_ndarray");
    // An empty axis reduced away over a huge one: an empty result, computed.
    let wide = LazyArray::zeros(&[0, 1 << 40], DataType::Float64);
    assert_eq!(wide.sum(1).unwrap().to_ndarray::<f64>().unwrap().len(), 0);
    assert_eq!(
        LazyArray::zeros(&[0, 5], DataType::Int8)
            .to_ndarray::<i8>()
            .unwrap()
            .len(),
        0
    );
    is_invalid(
        outcore::summarize(
            &LazyArray::zeros(&[1 << 62], DataType::Int8),
            Some(0),
            true,
            None,
        ),
        "summarize",
    );
}

#[test]
fn in_memory_arrays_check_their_chunks() {
    let a = ArrayD::<f64>::zeros(IxDyn(&[4, 0]));
    is_invalid(LazyArray::from_array(a.clone(), &[0, 1]), "chunks");
    is_invalid(LazyArray::from_array(a.clone(), &[2]), "chunks");
    let x = LazyArray::from_array(a, &[2, 3]).unwrap();
    assert_eq!(x.block_grid().num_blocks(), 0);
    assert_eq!(x.to_ndarray::<f64>().unwrap().shape(), &[4, 0]);
    is_invalid(x.rechunk(&[0, 1]), "chunks");
}
