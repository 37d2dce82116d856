using TorchSharp;
using static TorchSharp.torch;

namespace Vireo.Model.Inference;

/// <summary>One side of the model at inference: its modules on a device, in eval mode.</summary>
/// <typeparam name="TTower">The side's modules.</typeparam>
public abstract class ModelSide<TTower> : IDisposable where TTower : nn.Module
{
    private readonly bool _ownsTower;

    /// <param name="tower">The side's modules, moved to <paramref name="device"/> and put in eval mode.</param>
    /// <param name="device">Where the side runs.</param>
    /// <param name="ownsTower">Whether disposing this disposes <paramref name="tower"/>.</param>
    protected ModelSide(TTower tower, Device device, bool ownsTower)
    {
        Tower = tower;
        Device = device;
        _ownsTower = ownsTower;
        tower.to(device);
        tower.eval();
    }

    public TTower Tower { get; }

    protected Device Device { get; }

    public void Dispose()
    {
        if (_ownsTower) Tower.Dispose();
        GC.SuppressFinalize(this);
    }
}
