"""Each arity's ``__new__`` for :mod:`ramparts._tuples`, written out so that building a class compiles nothing.

``collections.namedtuple`` compiles a ``__new__`` for every class it builds (``eval`` of a lambda, about
30 µs): some fifty on every hook start. These are compiled once, into this module's bytecode, and
``_tuples`` renames a copy's arguments to the fields (``CodeType.replace``). Generated: one per arity
up to 32 (a class with more fields compiles its own); ``tests/unit/test_tuples.py`` checks each.
"""

_tuple_new = tuple.__new__


# fmt: off
def _n0(_cls): return _tuple_new(_cls, ())  # type: ignore[no-untyped-def]
def _n1(_cls, a0): return _tuple_new(_cls, (a0,))  # type: ignore[no-untyped-def]
def _n2(_cls, a0, a1): return _tuple_new(_cls, (a0, a1))  # type: ignore[no-untyped-def]
def _n3(_cls, a0, a1, a2): return _tuple_new(_cls, (a0, a1, a2))  # type: ignore[no-untyped-def]
def _n4(_cls, a0, a1, a2, a3): return _tuple_new(_cls, (a0, a1, a2, a3))  # type: ignore[no-untyped-def]
def _n5(_cls, a0, a1, a2, a3, a4): return _tuple_new(_cls, (a0, a1, a2, a3, a4))  # type: ignore[no-untyped-def]
def _n6(_cls, a0, a1, a2, a3, a4, a5): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5))  # type: ignore[no-untyped-def]
def _n7(_cls, a0, a1, a2, a3, a4, a5, a6): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6))  # type: ignore[no-untyped-def]
def _n8(_cls, a0, a1, a2, a3, a4, a5, a6, a7): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7))  # type: ignore[no-untyped-def]
def _n9(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8))  # type: ignore[no-untyped-def]
def _n10(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9))  # type: ignore[no-untyped-def]
def _n11(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10))  # type: ignore[no-untyped-def]
def _n12(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11))  # type: ignore[no-untyped-def]
def _n13(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12))  # type: ignore[no-untyped-def]
def _n14(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13))  # type: ignore[no-untyped-def]
def _n15(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14))  # type: ignore[no-untyped-def]
def _n16(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15))  # type: ignore[no-untyped-def]
def _n17(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16))  # type: ignore[no-untyped-def]
def _n18(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17))  # type: ignore[no-untyped-def]
def _n19(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18))  # type: ignore[no-untyped-def]
def _n20(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19))  # type: ignore[no-untyped-def]
def _n21(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20))  # type: ignore[no-untyped-def]
def _n22(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21))  # type: ignore[no-untyped-def]
def _n23(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22))  # type: ignore[no-untyped-def]
def _n24(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23))  # type: ignore[no-untyped-def]
def _n25(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24))  # type: ignore[no-untyped-def]
def _n26(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25))  # type: ignore[no-untyped-def]
def _n27(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26))  # type: ignore[no-untyped-def]
def _n28(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27))  # type: ignore[no-untyped-def]
def _n29(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28))  # type: ignore[no-untyped-def]
def _n30(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29))  # type: ignore[no-untyped-def]
def _n31(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30))  # type: ignore[no-untyped-def]
def _n32(_cls, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31): return _tuple_new(_cls, (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31))  # type: ignore[no-untyped-def]
# fmt: on

TEMPLATES = (
    _n0,
    _n1,
    _n2,
    _n3,
    _n4,
    _n5,
    _n6,
    _n7,
    _n8,
    _n9,
    _n10,
    _n11,
    _n12,
    _n13,
    _n14,
    _n15,
    _n16,
    _n17,
    _n18,
    _n19,
    _n20,
    _n21,
    _n22,
    _n23,
    _n24,
    _n25,
    _n26,
    _n27,
    _n28,
    _n29,
    _n30,
    _n31,
    _n32,
)
"""``TEMPLATES[n]``: the ``__new__`` of a tuple class of ``n`` fields (arguments ``_cls, a0 ... a<n-1>``)."""
