import pytest
import torch

from nalm.errors import NalmError
from nalm.tasks.arithmetic import RecurrentArithmeticTask
from nalm.train.cohort import fit_seeds, initial_weights, predict_seeds
from nalm.units import NAC, NAU, AccumulatorCell, GRUCell, LSTMCell, Recurrent, RNNCell, UnitCell
from nalm.units.recurrent import recurrent

from ..conftest import saturate


def _run(cell, x):
    state = cell.initial(x[:, 0])
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)
    return cell.output(state)


def test_lstm_cell_matches_torch_lstm_cell_with_the_same_weights():
    ours, ref = LSTMCell(3, 5), torch.nn.LSTMCell(3, 5)
    with torch.no_grad():
        ours.W_ih.copy_(ref.weight_ih)
        ours.W_hh.copy_(ref.weight_hh)
        ours.b.copy_(ref.bias_ih + ref.bias_hh)
    x = torch.randn(4, 7, 3)
    h = c = torch.zeros(4, 5)
    for t in range(7):
        h, c = ref(x[:, t], (h, c))
    torch.testing.assert_close(_run(ours, x), h, atol=1e-6, rtol=1e-5)


def test_relu_rnn_cell_matches_torch_rnn_cell():
    ours, ref = RNNCell(3, 4), torch.nn.RNNCell(3, 4, nonlinearity="relu")
    with torch.no_grad():
        ours.W_ih.copy_(ref.weight_ih)
        ours.W_hh.copy_(ref.weight_hh)
        ours.b.copy_(ref.bias_ih + ref.bias_hh)
    x = torch.randn(5, 6, 3)
    h = torch.zeros(5, 4)
    for t in range(6):
        h = ref(x[:, t], h)
    torch.testing.assert_close(_run(ours, x), h, atol=1e-6, rtol=1e-5)


def test_gru_cell_matches_torch_gru_cell():
    ours, ref = GRUCell(3, 4), torch.nn.GRUCell(3, 4)
    with torch.no_grad():
        ours.W_ih.copy_(ref.weight_ih)
        ours.W_hh.copy_(ref.weight_hh)
        ours.b_ih.copy_(ref.bias_ih)
        ours.b_hh.copy_(ref.bias_hh)
    x = torch.randn(5, 6, 3)
    h = torch.zeros(5, 4)
    for t in range(6):
        h = ref(x[:, t], h)
    torch.testing.assert_close(_run(ours, x), h, atol=1e-6, rtol=1e-5)


def test_accumulator_cell_is_an_exact_running_sum_at_length_1000():
    model = Recurrent(AccumulatorCell("nau", 3, 1), NAU(1, 1))
    with torch.no_grad():
        model.cell.unit.W.copy_(torch.tensor([[1.0, 0.0, 1.0]]))
        model.head.W.fill_(1.0)
    x = torch.randint(0, 10, (4, 1000, 3)).double().float()
    expected = (x[..., 0] + x[..., 2]).sum(1)
    assert torch.equal(model(x)[:, 0], expected)  # integers below 2**24: exact in float32


def test_exact_nac_cell_accumulates_the_two_slices_and_the_head_adds_them():
    # x_t has 4 entries; a = x0 + x1, b = x2 + x3 summed over time.
    model = Recurrent(UnitCell("nac", 4, 2), NAC(2, 1))
    cell_w = torch.tensor([[1.0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]])
    with torch.no_grad():
        model.cell.unit.W_hat[:], model.cell.unit.M_hat[:] = saturate(cell_w)
        model.head.W_hat[:], model.head.M_hat[:] = saturate(torch.tensor([[1.0, -1.0]]))
    x = torch.rand(8, 30, 4) * 5
    expected = x[..., :2].sum((1, 2)) - x[..., 2:].sum((1, 2))
    torch.testing.assert_close(model(x)[:, 0], expected, rtol=1e-5, atol=1e-4)


def test_recurrent_builder_and_bad_input():
    assert type(recurrent("rnn", 10, 3).cell) is RNNCell
    assert type(recurrent("nau>nmu", 10, 2).cell.unit).__name__ == "NAU"
    with pytest.raises(NalmError, match="unknown unit 'gruu'"):
        recurrent("gruu", 10, 2)
    with pytest.raises(NalmError, match="hidden_size must be at least 1"):
        LSTMCell(3, 0)
    with pytest.raises(NalmError, match="expects inputs"):
        recurrent("lstm", 3, 2)(torch.ones(3))


def test_recurrent_task_targets_sum_over_time_and_extrapolate_longer_and_larger():
    task = RecurrentArithmeticTask("mul", seed=3, eval_size=50)
    x = torch.rand(2, 10, 100)
    (a0, a1), (b0, b1) = task.a_slice, task.b_slice
    expected = x[..., a0:a1].sum((1, 2)) * x[..., b0:b1].sum((1, 2))
    torch.testing.assert_close(task.targets(x)[:, 0], expected)
    xi, _ = task.evaluation["interpolation"]
    xe, ye = task.evaluation["extrapolation"]
    assert xi.shape == (50, 10, 100) and xe.shape == (50, 20, 100)
    assert float(xi.min()) >= 0.1 and float(xi.max()) <= 0.2
    assert float(xe.min()) >= 0.2 and float(xe.max()) <= 0.3
    torch.testing.assert_close(ye, task.targets(xe.double()).float())


def test_predict_seeds_equals_each_model_alone():
    def make():
        return recurrent("lstm", 5, 3)

    seeds = [4, 9, 11]
    weights = initial_weights(make, seeds)
    x = torch.rand(6, 4, 5)
    batched = predict_seeds(make, weights, x, chunk=4)  # two chunks
    for i, seed in enumerate(seeds):
        torch.manual_seed(seed)
        alone = make()
        torch.testing.assert_close(batched[i], alone(x), atol=1e-6, rtol=1e-5)
    per_model = predict_seeds(make, weights, x.expand(3, -1, -1, -1), per_model=True)
    torch.testing.assert_close(per_model, batched)
    with pytest.raises(NalmError, match="per_model inputs need 3 sets"):
        predict_seeds(make, weights, x[:2], per_model=True)
    partial = [{k: v for k, v in w.items() if k != "cell.b"} for w in weights]
    with pytest.raises(NalmError, match=r"the weights lack cell\.b"):
        predict_seeds(make, partial, x)


def test_recurrent_models_train_under_fit_seeds_with_shared_inputs():
    tasks = [
        RecurrentArithmeticTask(
            op, input_size=4, subset=0.5, overlap=0, seed=0, train_length=3, eval_size=64
        )
        for op in ("add", "sub")
    ]
    result = fit_seeds(
        lambda: recurrent("nac", 4, 2),
        tasks,
        seeds=[0, 1],
        steps=300,
        lr=0.05,
        shared_inputs=True,
        eval_every=300,
        progress=False,
    )
    for run in result.runs:
        first, last = run.history[0], run.history[-1]
        assert last["interpolation_mse"] < 0.1 * first["interpolation_mse"]
