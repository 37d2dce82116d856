using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

namespace Vireo.Silo;

/// <summary>The Orleans Dashboard on the silo's HTTP port (section "Dashboard"); off unless turned on.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    public bool Enabled { get; set; }

    /// <summary>Where the dashboard is served, under the same port as /healthz and /metrics.</summary>
    [Required, RegularExpression("^/[A-Za-z0-9/_-]*$")]
    public string Path { get; set; } = "/dashboard";
}

public static class DashboardExtensions
{
    /// <summary>Serves the dashboard when Dashboard:Enabled is true; the silo side is added by <see cref="SiloHostExtensions.AddVireoSilo"/>.</summary>
    public static WebApplication MapSiloDashboard(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<DashboardOptions>>().Value;
        if (options.Enabled)
            app.MapOrleansDashboard(options.Path);
        return app;
    }
}
