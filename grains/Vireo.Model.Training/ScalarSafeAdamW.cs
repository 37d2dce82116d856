using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>Optimizers that keep the scalars they pass to libtorch alive for as long as libtorch reads them.</summary>
public static class ScalarSafe
{
    /// <summary>
    /// TorchSharp's AdamW with the same update, state and saved form, whose step keeps every libtorch scalar it passes
    /// reachable until the native call that reads it has returned.
    /// </summary>
    /// <remarks>
    /// TorchSharp's own step turns each coefficient into a temporary <see cref="Scalar"/> (a finalizable wrapper of a
    /// native value) and hands libtorch only its handle. Nothing keeps the wrapper alive during the call, so a garbage
    /// collection then (the data threads allocate all the time) can finalize it and free the value libtorch is
    /// reading. On the GPU machine, with the host drawing four batches a second, that ended a run in
    /// <c>mul_(Scalar)</c> with "Expected false to be true" from c10's Scalar accessor. Here each scalar lives in a
    /// <c>using</c> variable that is disposed only after the last call that takes it.
    /// </remarks>
    public sealed class AdamW(IEnumerable<Parameter> parameters, double learningRate, double weightDecay)
        : TorchSharp.Modules.AdamW(parameters, learningRate, weight_decay: weightDecay)
    {
        public override Tensor step(Func<Tensor>? closure = null) =>
            _step<ParamGroup>(group =>
            {
                var options = (Options)group.Options;
                if (options.amsgrad == true || options.maximize == true)
                    throw new NotSupportedException("ScalarSafe.AdamW implements plain AdamW only (no amsgrad, no maximize).");
                var (beta1, beta2) = (options.beta1!.Value, options.beta2!.Value);
                var lr = options.LearningRate!.Value;
                using var decay = (1 - lr * options.weight_decay!.Value).ToScalar();
                using var beta1Scalar = beta1.ToScalar();
                using var oneMinusBeta1 = (1 - beta1).ToScalar();
                using var beta2Scalar = beta2.ToScalar();
                using var oneMinusBeta2 = (1 - beta2).ToScalar();
                using var eps = options.eps!.Value.ToScalar();
                foreach (var param in group.Parameters)
                {
                    // The scope holds the gradient's wrapper and the temporaries, so none is finalized mid-call either.
                    using var _ = NewDisposeScope();
                    if (param.grad is not { } grad) continue;
                    var state = (State)_state[param.Handle];
                    state.step += 1;
                    param.mul_(decay);
                    var correction1 = 1 - Math.Pow(beta1, state.step);
                    var correction2 = 1 - Math.Pow(beta2, state.step);
                    state.exp_avg.mul_(beta1Scalar).add_(grad, alpha: oneMinusBeta1);
                    state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad, value: oneMinusBeta2);
                    using var root = Math.Sqrt(correction2).ToScalar();
                    var denominator = state.exp_avg_sq.sqrt().div_(root).PlusInPlace(eps);
                    using var stepSize = (-lr / correction1).ToScalar();
                    param.addcdiv_(state.exp_avg, denominator, value: stepSize);
                }
            }, closure);
    }
}
