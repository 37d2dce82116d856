using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Training.Tests;

public sealed class ScalarSafeAdamWTests
{
    private static Sequential Net()
    {
        random.manual_seed(11);
        return nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3));
    }

    /// <summary>Gives every parameter of <paramref name="net"/> the gradient of one fixed random batch's loss.</summary>
    private static void Backward(Module<Tensor, Tensor> net, int step)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(100 + step);
        var x = randn(4, 6);
        net.zero_grad();
        net.forward(x).pow(2).mean().backward();
    }

    private static void Step(OptimizerHelper optimizer, Module<Tensor, Tensor> net, int step, double lr)
    {
        Backward(net, step);
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
        optimizer.step();
    }

    private static void AssertSameWeights(Module a, Module b)
    {
        foreach (var ((name, p), (_, q)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(p.allclose(q, rtol: 0, atol: 0), $"{name} differs");
    }

    [Fact]
    public void TakesTorchSharpsAdamWStepsExactlyAndSharesItsSavedState()
    {
        using var ours = Net();
        using var theirs = Net();
        using var safe = new ScalarSafe.AdamW(ours.parameters(), learningRate: 0.05, weightDecay: 0.01);
        using var plain = optim.AdamW(theirs.parameters(), 0.05, weight_decay: 0.01);
        double[] schedule = [0.05, 0.03, 0.08, 0.01];
        for (var step = 0; step < schedule.Length; step++)
        {
            Step(safe, ours, step, schedule[step]);
            Step(plain, theirs, step, schedule[step]);
        }
        AssertSameWeights(ours, theirs);
        using var start = Net();
        AssertNotSame(start, ours);

        // A checkpoint written by one loads into the other and both go on alike.
        var bytes = new MemoryStream();
        safe.save_state_dict(new BinaryWriter(bytes));
        using var resumed = Net();
        foreach (var ((_, p), (_, q)) in resumed.named_parameters().Zip(ours.named_parameters()))
            using (no_grad()) p.copy_(q);
        using var resumedOptimizer = optim.AdamW(resumed.parameters(), 0.05, weight_decay: 0.01);
        bytes.Position = 0;
        resumedOptimizer.load_state_dict(new BinaryReader(bytes));
        Step(safe, ours, 9, 0.02);
        Step(resumedOptimizer, resumed, 9, 0.02);
        AssertSameWeights(ours, resumed);
    }

    private static void AssertNotSame(Module a, Module b) =>
        Assert.Contains(a.parameters().Zip(b.parameters()), pair => !pair.First.allclose(pair.Second, rtol: 0, atol: 0));

    [Fact]
    public void SkipsParametersWithoutAGradientAndRefusesVariantsItDoesNotImplement()
    {
        using var net = Net();
        using var frozenCopy = Net();
        using var optimizer = new ScalarSafe.AdamW(net.parameters(), learningRate: 0.05, weightDecay: 0.01);
        Backward(net, 0);
        var last = net.parameters().Last();
        last.grad = null;
        optimizer.step();
        Assert.True(last.allclose(frozenCopy.parameters().Last(), rtol: 0, atol: 0));
        AssertNotSame(net, frozenCopy);

        foreach (var group in optimizer.ParamGroups) ((TorchSharp.Modules.AdamW.Options)((ParamGroup)group).Options).amsgrad = true;
        Assert.Throws<NotSupportedException>(() => optimizer.step());
    }
}
