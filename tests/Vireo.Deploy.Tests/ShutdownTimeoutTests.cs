using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Vireo.Deploy.Tests;

/// <summary>The chart sets DOTNET_shutdownTimeoutSeconds so that a stopping process ends before the kubelet kills it.</summary>
public sealed class ShutdownTimeoutTests
{
    [Fact]
    public async Task TheHostTakesItsShutdownTimeoutFromTheEnvironment()
    {
        Environment.SetEnvironmentVariable("DOTNET_shutdownTimeoutSeconds", "110");
        var builder = WebApplication.CreateBuilder();
        await using var app = builder.Build();
        Assert.Equal(TimeSpan.FromSeconds(110), app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }
}
