"""The Feynman equations that need only + − × ÷, rational powers and constants.

Source: S.-M. Udrescu and M. Tegmark, "AI Feynman: a physics-inspired method for symbolic
regression", Science Advances 6 (2020) eaay2631, and the table of its 100 Feynman equations that
the authors distribute as ``FeynmanEquations.csv`` (https://space.mit.edu/home/tegmark/aifeynman.html;
columns Filename, Number, Output, Formula, # variables, v1_name, v1_low, v1_high, ...). The table
was read in three public copies that agree on every formula and range:
``florianBachinger/FeynmanEquations-Python`` (``generate/src/FeynmanEquations.csv``, downloaded
from the authors' page on 2022-04-01), ``KenWuqianghao/Transformer-SR-Benchmarks`` and
``bjbcjwsq/PSRN_baseline`` (``FeynmanEquations.csv`` in both; the last spells γ ``Gamma``).

The rule: an equation is kept when its formula is built from its variables, numbers and π with
+, −, ×, ÷ and powers whose exponents are rational numbers (``sqrt`` included) — nothing else.
71 of the 100 qualify; :data:`EXCLUDED` names the other 29 and the function that rules each out.
The table's "# variables" column is not used (in the copy that keeps the authors' file as it was,
it disagrees with the variables listed in six rows); the variables are the ones the row lists, all
of which its formula uses.

Each :class:`Equation` keeps the table's formula text unchanged and its variables' ranges in the
table's order. The formulas are parsed with every name as a plain ``sympy.Symbol`` (so ``gamma``
and ``I`` are variables, not the gamma function and the imaginary unit); ``pi`` is π.

Run ``.venv/bin/python benchmarks/feynman/equations.py`` to check the list (:func:`check`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy
from sympy.parsing.sympy_parser import parse_expr


@dataclass(frozen=True)
class Equation:
    """One row of the table: ``output = formula`` with each variable uniform on ``(low, high)``.

    Args:
        id: the Feynman lecture number, e.g. ``"I.12.2"``.
        output: the name of the quantity the formula gives (the table's Output column).
        formula: the table's formula, parsable by sympy over the variable names.
        ranges: ``{name: (low, high)}`` in the table's order.
    """

    id: str
    output: str
    formula: str
    ranges: dict[str, tuple[float, float]]

    @property
    def names(self) -> list[str]:
        return list(self.ranges)

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(name) for name in self.ranges]

    @cached_property
    def expr(self) -> sympy.Expr:
        """The formula over plain ``sympy.Symbol(name)``."""
        local = {name: sympy.Symbol(name) for name in self.ranges}
        return parse_expr(self.formula, local_dict=local)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The formula on the rows of ``x`` (shape ``(N, len(names))``, columns in ``names``)."""
        f = sympy.lambdify(self.symbols, self.expr, "numpy")
        with np.errstate(all="ignore"):
            y = f(*np.asarray(x, dtype=np.float64).T)
        return np.broadcast_to(np.asarray(y, dtype=np.float64), (len(x),)).copy()

    # a dict field makes the dataclass unhashable by default; the id identifies the row
    def __hash__(self) -> int:
        return hash(self.id)


def _eq(id: str, output: str, formula: str, **ranges: tuple[float, float]) -> Equation:
    return Equation(id, output, formula, dict(ranges))


R15 = (1, 5)  # the table's most common range
R13 = (1, 3)

EQUATIONS: tuple[Equation, ...] = (
    _eq("I.8.14", "d", "sqrt((x2-x1)**2+(y2-y1)**2)", x1=R15, x2=R15, y1=R15, y2=R15),
    _eq(
        "I.9.18",
        "F",
        "G*m1*m2/((x2-x1)**2+(y2-y1)**2+(z2-z1)**2)",
        m1=(1, 2),
        m2=(1, 2),
        G=(1, 2),
        x1=(3, 4),
        x2=(1, 2),
        y1=(3, 4),
        y2=(1, 2),
        z1=(3, 4),
        z2=(1, 2),
    ),
    _eq("I.10.7", "m", "m_0/sqrt(1-v**2/c**2)", m_0=R15, v=(1, 2), c=(3, 10)),
    _eq(
        "I.11.19",
        "A",
        "x1*y1+x2*y2+x3*y3",
        x1=R15,
        x2=R15,
        x3=R15,
        y1=R15,
        y2=R15,
        y3=R15,
    ),
    _eq("I.12.1", "F", "mu*Nn", mu=R15, Nn=R15),
    _eq("I.12.2", "F", "q1*q2*r/(4*pi*epsilon*r**3)", q1=R15, q2=R15, epsilon=R15, r=R15),
    _eq("I.12.4", "Ef", "q1*r/(4*pi*epsilon*r**3)", q1=R15, epsilon=R15, r=R15),
    _eq("I.12.5", "F", "q2*Ef", q2=R15, Ef=R15),
    _eq("I.13.4", "K", "1/2*m*(v**2+u**2+w**2)", m=R15, v=R15, u=R15, w=R15),
    _eq("I.13.12", "U", "G*m1*m2*(1/r2-1/r1)", m1=R15, m2=R15, r1=R15, r2=R15, G=R15),
    _eq("I.14.3", "U", "m*g*z", m=R15, g=R15, z=R15),
    _eq("I.14.4", "U", "1/2*k_spring*x**2", k_spring=R15, x=R15),
    _eq(
        "I.15.3x",
        "x1",
        "(x-u*t)/sqrt(1-u**2/c**2)",
        x=(5, 10),
        u=(1, 2),
        c=(3, 20),
        t=(1, 2),
    ),
    _eq(
        "I.15.3t",
        "t1",
        "(t-u*x/c**2)/sqrt(1-u**2/c**2)",
        x=R15,
        c=(3, 10),
        u=(1, 2),
        t=R15,
    ),
    _eq("I.15.1", "p", "m_0*v/sqrt(1-v**2/c**2)", m_0=R15, v=(1, 2), c=(3, 10)),
    _eq("I.16.6", "v1", "(u+v)/(1+u*v/c**2)", c=R15, v=R15, u=R15),
    _eq("I.18.4", "r", "(m1*r1+m2*r2)/(m1+m2)", m1=R15, m2=R15, r1=R15, r2=R15),
    _eq(
        "I.24.6",
        "E_n",
        "1/2*m*(omega**2+omega_0**2)*1/2*x**2",
        m=R13,
        omega=R13,
        omega_0=R13,
        x=R13,
    ),
    _eq("I.25.13", "Volt", "q/C", q=R15, C=R15),
    _eq("I.27.6", "foc", "1/(1/d1+n/d2)", d1=R15, d2=R15, n=R15),
    _eq("I.29.4", "k", "omega/c", omega=(1, 10), c=(1, 10)),
    _eq("I.32.5", "Pwr", "q**2*a**2/(6*pi*epsilon*c**3)", q=R15, a=R15, epsilon=R15, c=R15),
    _eq(
        "I.32.17",
        "Pwr",
        "(1/2*epsilon*c*Ef**2)*(8*pi*r**2/3)*(omega**4/(omega**2-omega_0**2)**2)",
        epsilon=(1, 2),
        c=(1, 2),
        Ef=(1, 2),
        r=(1, 2),
        omega=(1, 2),
        omega_0=(3, 5),
    ),
    _eq("I.34.8", "omega", "q*v*B/p", q=R15, v=R15, B=R15, p=R15),
    _eq("I.34.1", "omega", "omega_0/(1-v/c)", c=(3, 10), v=(1, 2), omega_0=R15),
    _eq(
        "I.34.14",
        "omega",
        "(1+v/c)/sqrt(1-v**2/c**2)*omega_0",
        c=(3, 10),
        v=(1, 2),
        omega_0=R15,
    ),
    _eq("I.34.27", "E_n", "(h/(2*pi))*omega", omega=R15, h=R15),
    _eq(
        "I.38.12",
        "r",
        "4*pi*epsilon*(h/(2*pi))**2/(m*q**2)",
        m=R15,
        q=R15,
        h=R15,
        epsilon=R15,
    ),
    _eq("I.39.1", "E_n", "3/2*pr*V", pr=R15, V=R15),
    _eq("I.39.11", "E_n", "1/(gamma-1)*pr*V", gamma=(2, 5), pr=R15, V=R15),
    _eq("I.39.22", "pr", "n*kb*T/V", n=R15, T=R15, V=R15, kb=R15),
    _eq("I.43.16", "v", "mu_drift*q*Volt/d", mu_drift=R15, q=R15, Volt=R15, d=R15),
    _eq("I.43.31", "D", "mob*kb*T", mob=R15, T=R15, kb=R15),
    _eq("I.43.43", "kappa", "1/(gamma-1)*kb*v/A", gamma=(2, 5), kb=R15, A=R15, v=R15),
    _eq("I.47.23", "c", "sqrt(gamma*pr/rho)", gamma=R15, pr=R15, rho=R15),
    _eq("I.48.2", "E_n", "m*c**2/sqrt(1-v**2/c**2)", m=R15, v=(1, 2), c=(3, 10)),
    _eq("II.2.42", "Pwr", "kappa*(T2-T1)*A/d", kappa=R15, T1=R15, T2=R15, A=R15, d=R15),
    _eq("II.3.24", "flux", "Pwr/(4*pi*r**2)", Pwr=R15, r=R15),
    _eq("II.4.23", "Volt", "q/(4*pi*epsilon*r)", q=R15, epsilon=R15, r=R15),
    _eq(
        "II.6.15a",
        "Ef",
        "p_d/(4*pi*epsilon)*3*z/r**5*sqrt(x**2+y**2)",
        epsilon=R13,
        p_d=R13,
        r=R13,
        x=R13,
        y=R13,
        z=R13,
    ),
    _eq("II.8.7", "E_n", "3/5*q**2/(4*pi*epsilon*d)", q=R15, epsilon=R15, d=R15),
    _eq("II.8.31", "E_den", "epsilon*Ef**2/2", epsilon=R15, Ef=R15),
    _eq("II.10.9", "Ef", "sigma_den/epsilon*1/(1+chi)", sigma_den=R15, epsilon=R15, chi=R15),
    _eq(
        "II.11.3",
        "x",
        "q*Ef/(m*(omega_0**2-omega**2))",
        q=R13,
        Ef=R13,
        m=R13,
        omega_0=(3, 5),
        omega=(1, 2),
    ),
    _eq("II.11.20", "Pol", "n_rho*p_d**2*Ef/(3*kb*T)", n_rho=R15, p_d=R15, Ef=R15, kb=R15, T=R15),
    _eq(
        "II.11.27",
        "Pol",
        "n*alpha/(1-(n*alpha/3))*epsilon*Ef",
        n=(0, 1),
        alpha=(0, 1),
        epsilon=(1, 2),
        Ef=(1, 2),
    ),
    _eq("II.11.28", "theta", "1+n*alpha/(1-(n*alpha/3))", n=(0, 1), alpha=(0, 1)),
    _eq("II.13.17", "B", "1/(4*pi*epsilon*c**2)*2*I/r", epsilon=R15, c=R15, I=R15, r=R15),
    _eq("II.13.23", "rho_c", "rho_c_0/sqrt(1-v**2/c**2)", rho_c_0=R15, v=(1, 2), c=(3, 10)),
    _eq("II.13.34", "j", "rho_c_0*v/sqrt(1-v**2/c**2)", rho_c_0=R15, v=(1, 2), c=(3, 10)),
    _eq(
        "II.21.32",
        "Volt",
        "q/(4*pi*epsilon*r*(1-v/c))",
        q=R15,
        epsilon=R15,
        r=R15,
        v=(1, 2),
        c=(3, 10),
    ),
    _eq("II.24.17", "k", "sqrt(omega**2/c**2-pi**2/d**2)", omega=(4, 6), c=(1, 2), d=(2, 4)),
    _eq("II.27.16", "flux", "epsilon*c*Ef**2", epsilon=R15, c=R15, Ef=R15),
    _eq("II.27.18", "E_den", "epsilon*Ef**2", epsilon=R15, Ef=R15),
    _eq("II.34.2a", "I", "q*v/(2*pi*r)", q=R15, v=R15, r=R15),
    _eq("II.34.2", "mom", "q*v*r/2", q=R15, v=R15, r=R15),
    _eq("II.34.11", "omega", "g_*q*B/(2*m)", g_=R15, q=R15, B=R15, m=R15),
    _eq("II.34.29a", "mom", "q*h/(4*pi*m)", q=R15, h=R15, m=R15),
    _eq("II.34.29b", "E_n", "g_*mom*B*Jz/(h/(2*pi))", g_=R15, h=R15, Jz=R15, mom=R15, B=R15),
    _eq(
        "II.36.38",
        "f",
        "mom*H/(kb*T)+(mom*alpha)/(epsilon*c**2*kb*T)*M",
        mom=R13,
        H=R13,
        kb=R13,
        T=R13,
        alpha=R13,
        epsilon=R13,
        c=R13,
        M=R13,
    ),
    _eq("II.37.1", "E_n", "mom*(1+chi)*B", mom=R15, B=R15, chi=R15),
    _eq("II.38.3", "F", "Y*A*x/d", Y=R15, A=R15, d=R15, x=R15),
    _eq("II.38.14", "mu_S", "Y/(2*(1+sigma))", Y=R15, sigma=R15),
    _eq("III.7.38", "omega", "2*mom*B/(h/(2*pi))", mom=R15, B=R15, h=R15),
    _eq("III.10.19", "E_n", "mom*sqrt(Bx**2+By**2+Bz**2)", mom=R15, Bx=R15, By=R15, Bz=R15),
    _eq("III.12.43", "L", "n*(h/(2*pi))", n=R15, h=R15),
    _eq("III.13.18", "v", "2*E_n*d**2*k/(h/(2*pi))", E_n=R15, d=R15, k=R15, h=R15),
    _eq("III.15.14", "m", "(h/(2*pi))**2/(2*E_n*d**2)", h=R15, E_n=R15, d=R15),
    _eq("III.15.27", "k", "2*pi*alpha/(n*d)", alpha=R15, n=R15, d=R15),
    _eq(
        "III.19.51",
        "E_n",
        "-m*q**4/(2*(4*pi*epsilon)**2*(h/(2*pi))**2)*(1/n**2)",
        m=R15,
        q=R15,
        h=R15,
        n=R15,
        epsilon=R15,
    ),
    _eq("III.21.20", "j", "-rho_c_0*q*A_vec/m", rho_c_0=R15, q=R15, A_vec=R15, m=R15),
)

# The other 29 rows of the table and the functions in their formulas.
EXCLUDED: dict[str, str] = {
    "I.6.2a": "exp",
    "I.6.2": "exp",
    "I.6.2b": "exp",
    "I.12.11": "sin",
    "I.18.12": "sin",
    "I.18.14": "sin",
    "I.26.2": "arcsin, sin",
    "I.29.16": "cos",
    "I.30.3": "sin",
    "I.30.5": "arcsin",
    "I.37.4": "cos",
    "I.40.1": "exp",
    "I.41.16": "exp",
    "I.44.4": "ln",
    "I.50.26": "cos",
    "II.6.11": "cos",
    "II.6.15b": "cos, sin",
    "II.11.17": "cos",
    "II.15.4": "cos",
    "II.15.5": "cos",
    "II.35.18": "exp",
    "II.35.21": "tanh",
    "III.4.32": "exp",
    "III.4.33": "exp",
    "III.8.54": "sin",
    "III.9.52": "sin",
    "III.14.14": "exp",
    "III.15.12": "cos",
    "III.17.37": "cos",
}

EVERYDAY: tuple[Equation, ...] = (
    _eq("coulomb", "F", "q1*q2/r**2", q1=R15, q2=R15, r=R15),
    _eq("energy", "E", "m*v**2/2 + 9.81*m*h", m=R15, v=R15, h=R15),
    _eq("parallel", "R", "R1*R2/(R1 + R2)", R1=R15, R2=R15),
    _eq("seed-demo", "y", "x0/4 + x1/2 + x2**2", x0=R15, x1=R15, x2=R15),
    _eq("ideal-gas", "p", "8.314*n*T/V", n=R15, T=R15, V=R15),
)
"""Issue 35's five everyday laws (not from the Feynman table): every input on U[1, 5]; the seed
demo's law is the one the original NALU demo learns."""

BY_ID: dict[str, Equation] = {eq.id: eq for eq in (*EQUATIONS, *EVERYDAY)}


def _only_arithmetic(expr: sympy.Expr) -> bool:
    """True when ``expr`` has no function: only symbols, rationals, π, sums, products and
    powers with rational exponents."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            allowed = node.exp.is_Rational
        else:
            allowed = node.is_Symbol or node.is_Rational or node.is_Add or node.is_Mul
            allowed = allowed or node is sympy.pi
        if not allowed:
            return False
    return True


def check(rows: int = 10_000, seed: int = 0) -> None:
    """Assert that the list is what the module says: 71 + 29 = 100 distinct ids, every formula
    parses, uses exactly its variables, holds no function, and is finite and real on ``rows``
    points drawn uniformly from its ranges (and at the corners of its box)."""
    ids = [eq.id for eq in EQUATIONS]
    assert len(ids) == len(set(ids)) == 71, len(ids)
    assert len(EXCLUDED) == 29 and not set(EXCLUDED) & set(ids)
    rng = np.random.default_rng(seed)
    for eq in EQUATIONS:
        assert all(name.isidentifier() for name in eq.names), eq.id
        assert eq.expr.free_symbols == set(eq.symbols), (eq.id, eq.expr.free_symbols)
        assert _only_arithmetic(eq.expr), (eq.id, eq.expr)
        for low, high in eq.ranges.values():
            assert 0 <= low < high, eq.id
        low, high = np.array(list(eq.ranges.values()), dtype=np.float64).T
        x = rng.uniform(low, high, (rows, len(low)))
        corners = np.array(np.meshgrid(*zip(low, high, strict=True))).reshape(len(low), -1).T
        y = eq(np.concatenate([x, corners]))
        assert np.isfinite(y).all(), (eq.id, "not finite on its ranges")
    # the rule rejects what it should: a function anywhere rules an equation out
    t = sympy.Symbol("t")
    assert not _only_arithmetic(sympy.sin(t) * t) and not _only_arithmetic(t ** sympy.Symbol("s"))
    assert _only_arithmetic(sympy.sqrt(1 - t**2) / (4 * sympy.pi))


if __name__ == "__main__":
    check()
    print(f"{len(EQUATIONS)} equations kept, {len(EXCLUDED)} left out; check passed")
