// Prompts that encode good practice for an agent: each names the tools in
// order and the checks to make between them.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

const model = z
  .string()
  .min(1)
  .describe('The model: a file the client has (.mdl, .xmile, .py) or a model_id already loaded.');

interface PromptSpec {
  name: string;
  title: string;
  description: string;
  args: Record<string, z.ZodType<string> | z.ZodOptional<z.ZodType<string>>>;
  text: (a: Record<string, string | undefined>) => string;
}

export const PROMPTS: PromptSpec[] = [
  {
    name: 'design_sensitivity_study',
    title: 'Design a sensitivity study',
    description:
      'Which parameters drive an output? Morris screening, then Sobol on the few that matter, with the checks between.',
    args: {
      model,
      output: z.string().optional().describe('The output variable of interest, e.g. "Infected".'),
    },
    text: (a) => `Run a sensitivity study of ${a.model}${a.output ? ` for the output "${a.output}"` : ''}.
1. notebook_create (container_create first if the study must be isolated), then pysd_model_load {source, content}.
   Check: the load result lists stocks and constants; note each constant's units and limits.
2. pysd_model_analyze: take parameters with suggested_range; check units_check has no issues you ignore silently.
3. pysd_experiment_run {experiment: {type: "morris", samples: 10, seed: 1, parameters: {name: [min, max], ...},
   metrics: [{variable: "${a.output ?? '<output>'}", stat: "max"}]}}. In an experiment [min, max] is a range.
   Check: failed_runs is 0; rank parameters by mu_star in sensitivity.by_metric.
4. Keep the 3-5 parameters with the largest mu_star; pysd_experiment_run {type: "sobol", samples: 256, seed: 1,
   options: {calc_second_order: false}}. Check: ST_conf is small against ST (else raise samples).
5. pysd_visualize {target: results_dir, kind: "tornado"}; read the PNG through its resource link.
6. notebook_export, experiment_register_result {experiment_id, session_id, artifacts, metrics}.
Report: the ranking, the indices with their confidence, and what the model assumes about the top parameters.`,
  },
  {
    name: 'calibrate_to_data',
    title: 'Calibrate a model to data',
    description: 'Fit parameters to observed data by optimization, then check the fit and its uncertainty.',
    args: {
      model,
      data: z
        .string()
        .min(1)
        .describe('Observed data: a CSV in the work dir with a time column and one per variable.'),
      variable: z.string().min(1).describe('The model variable the data observes, e.g. "Infected".'),
    },
    text: (a) => `Calibrate ${a.model} so that "${a.variable}" matches ${a.data}.
1. notebook_create, pysd_model_load. Check: "${a.variable}" exists and its units match the data.
2. cell_add {execute: true} with pandas: read ${a.data}, print its time span and step; make sure the model's
   time settings (initial_time, final_time, saveper) cover it.
3. Pick 2-4 uncertain parameters with plausible ranges from pysd_model_analyze (suggested_range, limits).
4. Add a cell defining the error (sum of squared differences between the run and the data at the data's times),
   or use pysd_experiment_run {type: "optimization", parameters: {name: [min, max]}, objective:
   {variable, stat, goal: "min"}, samples: 300, seed: 1} when one metric expresses the fit.
   Check: optimization.success, and that best_parameters are not at a bound (else widen it, or question it).
5. pysd_experiment_run {type: "single", parameters: best_parameters}; pysd_visualize timeseries against the data.
6. pysd_experiment_run {type: "lhs", samples: 100} around the optimum to show how well-determined it is.
7. notebook_export and experiment_register_result with the fitted values as metrics.
Report: fitted values, the fit error, parameters the data cannot pin down.`,
  },
  {
    name: 'explore_scenarios_and_report',
    title: 'Explore scenarios and report',
    description: 'Compare named scenarios (or a plan over a grid) and write a short report from the catalog.',
    args: {
      model,
      question: z.string().optional().describe('The question the scenarios should answer.'),
    },
    text: (a) => `Explore scenarios of ${a.model}${a.question ? ` to answer: ${a.question}` : ''}.
1. Few named cases: pysd_experiment_run {type: "scenarios", scenarios: [{name, parameters: {...}}, ...],
   metrics: [...]} in one session. Check: one run per scenario, failed_runs 0.
2. Many combinations: experiment_plan_run {model: {source, content}, experiment: {type: "single", metrics},
   grid: {name: [v1, v2], ...}, parallel_limit: 4}. In a grid [v1, v2] is a SET of values (an experiment each).
   Long plans: call it as a task and poll it; check every experiment finished (experiment_list {plan_id, status: "failed"}).
3. catalog_query {sql: "SELECT experiment_id, name, value FROM metrics WHERE experiment_id IN (...) ORDER BY 1"}
   or over results; page with next_cursor.
4. pysd_visualize fan or scatter; read the PNGs through their resource links.
Report: a table of scenarios and their metrics, the ranking against the question, and the caveats.`,
  },
];

export function registerPrompts(server: McpServer): void {
  for (const p of PROMPTS) {
    server.registerPrompt(
      p.name,
      { title: p.title, description: p.description, argsSchema: p.args },
      (args) => ({
        description: p.description,
        messages: [{ role: 'user', content: { type: 'text', text: p.text(args as Record<string, string>) } }],
      }),
    );
  }
}
