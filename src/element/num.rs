//! Arithmetic on elements with numpy's semantics: integers wrap, integer division by zero
//! gives 0, `%` and `//` take the sign of the divisor (Python's rule), `maximum` and `minimum`
//! propagate NaN, and casts follow `ndarray.astype` (floats to integers truncate toward zero
//! and saturate; NaN becomes 0; anything non-zero becomes `true`).

use super::Element;

/// Element arithmetic, implemented for every [`Element`] type.
///
/// `bool` follows numpy: `add` is logical or, `mul` logical and; the executor never applies
/// the other arithmetic to `bool` (it promotes first).
pub trait Num: Element {
    /// Zero (`false`).
    const ZERO: Self;
    /// One (`true`).
    const ONE: Self;
    /// From `f64`, as numpy's `astype` (truncate toward zero, saturate, NaN → 0).
    fn from_f64(v: f64) -> Self;
    /// From `i64`, wrapping to the width.
    fn from_i64(v: i64) -> Self;
    /// From `u64`, wrapping to the width.
    fn from_u64(v: u64) -> Self;
    /// From `bool`.
    fn from_bool(v: bool) -> Self;
    /// Sign-extended (or zero-extended) bits as `i64`; floats truncate.
    fn as_i64(self) -> i64;
    /// Zero-extended (or sign-extended) bits as `u64`; floats truncate.
    fn as_u64(self) -> u64;
    /// Whether the value is non-zero (NaN is non-zero).
    fn truthy(self) -> bool;
    /// Converts to another element type with `astype` semantics.
    #[inline]
    fn cast<D: Num>(self) -> D {
        match Self::DATA_TYPE.kind() {
            super::Kind::Float => D::from_f64(self.to_f64()),
            super::Kind::Signed => D::from_i64(self.as_i64()),
            super::Kind::Unsigned => D::from_u64(self.as_u64()),
            super::Kind::Bool => D::from_bool(self.truthy()),
        }
    }
    /// `a + b`.
    fn add(self, o: Self) -> Self;
    /// `a - b`.
    fn sub(self, o: Self) -> Self;
    /// `a * b`.
    fn mul(self, o: Self) -> Self;
    /// `a / b`: IEEE division for floats; integers divide as [`Num::floor_div`] (numpy's
    /// true division of integers computes in floats, so the engine casts them first).
    fn div(self, o: Self) -> Self;
    /// `a // b` (floor division).
    fn floor_div(self, o: Self) -> Self;
    /// `a % b` (sign of the divisor).
    fn rem(self, o: Self) -> Self;
    /// `a ** b` (for integers, negative exponents give 0 unless the base is 1 or -1; numpy
    /// refuses them, and so do the engine's builders and kernels before this runs).
    fn pow(self, o: Self) -> Self;
    /// `numpy.maximum` (NaN wins).
    fn maximum(self, o: Self) -> Self;
    /// `numpy.minimum` (NaN wins).
    fn minimum(self, o: Self) -> Self;
    /// `-a` (wrapping).
    fn neg(self) -> Self;
    /// `|a|` (wrapping for the minimum integer).
    fn abs(self) -> Self;
    /// `numpy.sign`.
    fn sign(self) -> Self;
    /// `numpy.rint`: nearest, ties to even (integers unchanged).
    fn round(self) -> Self;
    /// Floor (integers unchanged).
    fn floor(self) -> Self;
    /// Ceiling (integers unchanged).
    fn ceil(self) -> Self;
    /// Toward zero (integers unchanged).
    fn trunc(self) -> Self;
    /// Whether the value is finite (always for integers).
    fn is_finite(self) -> bool;
    /// Whether the value is infinite (never for integers).
    fn is_infinite(self) -> bool;

    // numpy computes the functions below in floating point: the builders cast integer and
    // `bool` operands to a float type first, so only the float implementations run. The
    // other types compute in `f64` and convert back with `astype` rules, which keeps every
    // operation defined for every element type (one table maps each operation to one of
    // these methods, see `exec/functions.rs`).
    /// Square root.
    #[inline]
    fn sqrt(self) -> Self {
        Self::from_f64(self.to_f64().sqrt())
    }
    /// `e^x`.
    #[inline]
    fn exp(self) -> Self {
        Self::from_f64(self.to_f64().exp())
    }
    /// `e^x - 1`.
    #[inline]
    fn exp_m1(self) -> Self {
        Self::from_f64(self.to_f64().exp_m1())
    }
    /// Natural logarithm.
    #[inline]
    fn ln(self) -> Self {
        Self::from_f64(self.to_f64().ln())
    }
    /// Base-2 logarithm.
    #[inline]
    fn log2(self) -> Self {
        Self::from_f64(self.to_f64().log2())
    }
    /// Base-10 logarithm.
    #[inline]
    fn log10(self) -> Self {
        Self::from_f64(self.to_f64().log10())
    }
    /// `ln(1 + x)`.
    #[inline]
    fn ln_1p(self) -> Self {
        Self::from_f64(self.to_f64().ln_1p())
    }
    /// Sine.
    #[inline]
    fn sin(self) -> Self {
        Self::from_f64(self.to_f64().sin())
    }
    /// Cosine.
    #[inline]
    fn cos(self) -> Self {
        Self::from_f64(self.to_f64().cos())
    }
    /// Tangent.
    #[inline]
    fn tan(self) -> Self {
        Self::from_f64(self.to_f64().tan())
    }
    /// Inverse sine.
    #[inline]
    fn asin(self) -> Self {
        Self::from_f64(self.to_f64().asin())
    }
    /// Inverse cosine.
    #[inline]
    fn acos(self) -> Self {
        Self::from_f64(self.to_f64().acos())
    }
    /// Inverse tangent.
    #[inline]
    fn atan(self) -> Self {
        Self::from_f64(self.to_f64().atan())
    }
    /// Hyperbolic sine.
    #[inline]
    fn sinh(self) -> Self {
        Self::from_f64(self.to_f64().sinh())
    }
    /// Hyperbolic cosine.
    #[inline]
    fn cosh(self) -> Self {
        Self::from_f64(self.to_f64().cosh())
    }
    /// Hyperbolic tangent.
    #[inline]
    fn tanh(self) -> Self {
        Self::from_f64(self.to_f64().tanh())
    }
    /// `atan2(self, o)`: the angle of the point `(o, self)`.
    #[inline]
    fn atan2(self, o: Self) -> Self {
        Self::from_f64(self.to_f64().atan2(o.to_f64()))
    }
    /// `sqrt(self² + o²)` without undue overflow.
    #[inline]
    fn hypot(self, o: Self) -> Self {
        Self::from_f64(self.to_f64().hypot(o.to_f64()))
    }
    /// `numpy.fmod`: the remainder of truncated division, with the sign of the dividend
    /// (integers: 0 for a zero divisor, as numpy gives).
    fn fmod(self, o: Self) -> Self;
    /// Bitwise and (floats: of their bit patterns; numpy refuses floats, so do the builders).
    fn bit_and(self, o: Self) -> Self;
    /// Bitwise or (floats: as [`Num::bit_and`]).
    fn bit_or(self, o: Self) -> Self;
    /// Bitwise exclusive or (floats: as [`Num::bit_and`]).
    fn bit_xor(self, o: Self) -> Self;
    /// Bitwise not; logical not for `bool` (floats: as [`Num::bit_and`]).
    fn invert(self) -> Self;
}

macro_rules! int_num {
    ($($t:ty, $signed:expr);*) => {$(
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline] fn from_f64(v: f64) -> Self { v as $t }
            #[inline] fn from_i64(v: i64) -> Self { v as $t }
            #[inline] fn from_u64(v: u64) -> Self { v as $t }
            #[inline] fn from_bool(v: bool) -> Self { <$t>::from(v) }
            #[inline] fn as_i64(self) -> i64 { self as i64 }
            #[inline] fn as_u64(self) -> u64 { self as u64 }
            #[inline] fn truthy(self) -> bool { self != 0 }
            #[inline] fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline] fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline] fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline] fn div(self, o: Self) -> Self { self.floor_div(o) }
            #[inline]
            #[allow(unused_comparisons)]
            fn floor_div(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let q = self.wrapping_div(o);
                if $signed && (self.wrapping_rem(o) != 0) && ((self < 0) != (o < 0)) { q.wrapping_sub(1) } else { q }
            }
            #[inline]
            #[allow(unused_comparisons)]
            fn rem(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                if $signed && r != 0 && ((r < 0) != (o < 0)) { r.wrapping_add(o) } else { r }
            }
            #[inline]
            #[allow(unused_comparisons)]
            fn pow(self, o: Self) -> Self {
                if o < 0 {
                    // Integer to a negative power: only 1 and -1 have integer results.
                    return match self as i64 {
                        1 => 1,
                        -1 => if (o as i64) % 2 == 0 { 1 } else { self },
                        _ => 0,
                    };
                }
                let mut base = self;
                let mut exp = o as u64;
                let mut acc: $t = 1;
                while exp > 0 {
                    if exp & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    exp >>= 1;
                }
                acc
            }
            #[inline] fn maximum(self, o: Self) -> Self { if o > self { o } else { self } }
            #[inline] fn minimum(self, o: Self) -> Self { if o < self { o } else { self } }
            #[inline] fn neg(self) -> Self { (0 as $t).wrapping_sub(self) }
            #[inline]
            #[allow(unused_comparisons)]
            fn abs(self) -> Self { if self < 0 { self.neg() } else { self } }
            #[inline]
            #[allow(unused_comparisons)]
            fn sign(self) -> Self {
                if self > 0 { 1 } else if self < 0 { (0 as $t).wrapping_sub(1) } else { 0 }
            }
            #[inline] fn round(self) -> Self { self }
            #[inline] fn floor(self) -> Self { self }
            #[inline] fn ceil(self) -> Self { self }
            #[inline] fn trunc(self) -> Self { self }
            #[inline] fn is_finite(self) -> bool { true }
            #[inline] fn is_infinite(self) -> bool { false }
            #[inline]
            fn fmod(self, o: Self) -> Self { if o == 0 { 0 } else { self.wrapping_rem(o) } }
            #[inline] fn bit_and(self, o: Self) -> Self { self & o }
            #[inline] fn bit_or(self, o: Self) -> Self { self | o }
            #[inline] fn bit_xor(self, o: Self) -> Self { self ^ o }
            #[inline] fn invert(self) -> Self { !self }
        }
    )*};
}

int_num!(i8, true; i16, true; i32, true; i64, true; u8, false; u16, false; u32, false; u64, false);

macro_rules! float_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline] fn from_f64(v: f64) -> Self { v as $t }
            #[inline] fn from_i64(v: i64) -> Self { v as $t }
            #[inline] fn from_u64(v: u64) -> Self { v as $t }
            #[inline] fn from_bool(v: bool) -> Self { u8::from(v) as $t }
            #[inline] fn as_i64(self) -> i64 { self as i64 }
            #[inline] fn as_u64(self) -> u64 { self as u64 }
            #[inline] fn truthy(self) -> bool { self != 0.0 }
            #[inline] fn add(self, o: Self) -> Self { self + o }
            #[inline] fn sub(self, o: Self) -> Self { self - o }
            #[inline] fn mul(self, o: Self) -> Self { self * o }
            #[inline] fn div(self, o: Self) -> Self { self / o }
            #[inline] fn floor_div(self, o: Self) -> Self { float_divmod(self, o).0 }
            #[inline] fn rem(self, o: Self) -> Self { float_divmod(self, o).1 }
            #[inline] fn pow(self, o: Self) -> Self { self.powf(o) }
            #[inline]
            fn maximum(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if o > self { o } else { self }
            }
            #[inline]
            fn minimum(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() { <$t>::NAN } else if o < self { o } else { self }
            }
            #[inline] fn neg(self) -> Self { -self }
            #[inline] fn abs(self) -> Self { <$t>::abs(self) }
            #[inline]
            fn sign(self) -> Self {
                if self > 0.0 { 1.0 } else if self < 0.0 { -1.0 } else if self == 0.0 { 0.0 } else { self }
            }
            #[inline] fn round(self) -> Self { self.round_ties_even() }
            #[inline] fn floor(self) -> Self { <$t>::floor(self) }
            #[inline] fn ceil(self) -> Self { <$t>::ceil(self) }
            #[inline] fn trunc(self) -> Self { <$t>::trunc(self) }
            #[inline] fn is_finite(self) -> bool { <$t>::is_finite(self) }
            #[inline] fn is_infinite(self) -> bool { <$t>::is_infinite(self) }
            #[inline] fn sqrt(self) -> Self { <$t>::sqrt(self) }
            #[inline] fn exp(self) -> Self { <$t>::exp(self) }
            #[inline] fn exp_m1(self) -> Self { <$t>::exp_m1(self) }
            #[inline] fn ln(self) -> Self { <$t>::ln(self) }
            #[inline] fn log2(self) -> Self { <$t>::log2(self) }
            #[inline] fn log10(self) -> Self { <$t>::log10(self) }
            #[inline] fn ln_1p(self) -> Self { <$t>::ln_1p(self) }
            #[inline] fn sin(self) -> Self { <$t>::sin(self) }
            #[inline] fn cos(self) -> Self { <$t>::cos(self) }
            #[inline] fn tan(self) -> Self { <$t>::tan(self) }
            #[inline] fn asin(self) -> Self { <$t>::asin(self) }
            #[inline] fn acos(self) -> Self { <$t>::acos(self) }
            #[inline] fn atan(self) -> Self { <$t>::atan(self) }
            #[inline] fn sinh(self) -> Self { <$t>::sinh(self) }
            #[inline] fn cosh(self) -> Self { <$t>::cosh(self) }
            #[inline] fn tanh(self) -> Self { <$t>::tanh(self) }
            #[inline] fn atan2(self, o: Self) -> Self { <$t>::atan2(self, o) }
            #[inline] fn hypot(self, o: Self) -> Self { <$t>::hypot(self, o) }
            #[inline] fn fmod(self, o: Self) -> Self { self % o }
            #[inline] fn bit_and(self, o: Self) -> Self { <$t>::from_bits(self.to_bits() & o.to_bits()) }
            #[inline] fn bit_or(self, o: Self) -> Self { <$t>::from_bits(self.to_bits() | o.to_bits()) }
            #[inline] fn bit_xor(self, o: Self) -> Self { <$t>::from_bits(self.to_bits() ^ o.to_bits()) }
            #[inline] fn invert(self) -> Self { <$t>::from_bits(!self.to_bits()) }
        }
    )*};
}

float_num!(f32, f64);

/// numpy's `divmod` for floats (`npy_divmod`): the remainder takes the divisor's sign (a zero
/// remainder too), and the quotient is snapped to the integer nearest `(a - rem) / b`, so
/// `a // b * b + a % b == a` as far as rounding allows.
#[inline]
fn float_divmod<F: num_traits::Float>(a: F, b: F) -> (F, F) {
    let zero = F::zero();
    let mut rem = a % b;
    if b == zero {
        return (a / b, rem);
    }
    let mut div = (a - rem) / b;
    if rem != zero {
        if (b < zero) != (rem < zero) {
            rem = rem + b;
            div = div - F::one();
        }
    } else {
        rem = zero.copysign(b);
    }
    let quotient = if div != zero {
        let floor = div.floor();
        if div - floor > F::from(0.5).expect("representable") {
            floor + F::one()
        } else {
            floor
        }
    } else {
        zero.copysign(a / b)
    };
    (quotient, rem)
}

impl Num for bool {
    const ZERO: Self = false;
    const ONE: Self = true;
    #[inline]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline]
    fn from_u64(v: u64) -> Self {
        v != 0
    }
    #[inline]
    fn from_bool(v: bool) -> Self {
        v
    }
    #[inline]
    fn as_i64(self) -> i64 {
        i64::from(self)
    }
    #[inline]
    fn as_u64(self) -> u64 {
        u64::from(self)
    }
    #[inline]
    fn truthy(self) -> bool {
        self
    }
    #[inline]
    fn add(self, o: Self) -> Self {
        self | o
    }
    #[inline]
    fn sub(self, o: Self) -> Self {
        self ^ o
    }
    #[inline]
    fn mul(self, o: Self) -> Self {
        self & o
    }
    #[inline]
    fn div(self, o: Self) -> Self {
        self & o
    }
    #[inline]
    fn floor_div(self, o: Self) -> Self {
        self & o
    }
    #[inline]
    fn rem(self, _o: Self) -> Self {
        false
    }
    #[inline]
    fn pow(self, o: Self) -> Self {
        self | !o
    }
    #[inline]
    fn maximum(self, o: Self) -> Self {
        self | o
    }
    #[inline]
    fn minimum(self, o: Self) -> Self {
        self & o
    }
    #[inline]
    fn neg(self) -> Self {
        self
    }
    #[inline]
    fn abs(self) -> Self {
        self
    }
    #[inline]
    fn sign(self) -> Self {
        self
    }
    #[inline]
    fn round(self) -> Self {
        self
    }
    #[inline]
    fn floor(self) -> Self {
        self
    }
    #[inline]
    fn ceil(self) -> Self {
        self
    }
    #[inline]
    fn trunc(self) -> Self {
        self
    }
    #[inline]
    fn is_finite(self) -> bool {
        true
    }
    #[inline]
    fn is_infinite(self) -> bool {
        false
    }
    #[inline]
    fn fmod(self, _o: Self) -> Self {
        false
    }
    #[inline]
    fn bit_and(self, o: Self) -> Self {
        self & o
    }
    #[inline]
    fn bit_or(self, o: Self) -> Self {
        self | o
    }
    #[inline]
    fn bit_xor(self, o: Self) -> Self {
        self ^ o
    }
    #[inline]
    fn invert(self) -> Self {
        !self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_division_rules() {
        assert_eq!(Num::floor_div(-7i32, 2), -4);
        assert_eq!(Num::rem(-7i32, 2), 1);
        assert_eq!(Num::rem(7i32, -2), -1);
        assert_eq!(Num::floor_div(7i32, 0), 0);
        assert_eq!(Num::floor_div(i8::MIN, -1), i8::MIN);
        assert_eq!(Num::rem(-7.5f64, 2.0), 0.5);
        assert_eq!(Num::pow(2i64, -1), 0);
        assert_eq!(Num::pow(-1i64, -3), -1);
        assert_eq!(Num::pow(3u8, 5), 243);
        assert_eq!(f64::NAN.cast::<i32>(), 0);
        assert_eq!((-1.7f64).cast::<i8>(), -1);
        assert_eq!(300i32.cast::<u8>(), 44);
        assert!(0.5f32.cast::<bool>());
        assert_eq!(true.cast::<f64>(), 1.0);
        assert!(Num::maximum(f64::NAN, 1.0).is_nan());
        assert_eq!(Num::round(2.5f64), 2.0);
    }
}
