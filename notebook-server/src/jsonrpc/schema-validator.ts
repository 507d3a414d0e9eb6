// The JSON Schema validator our MCP servers and clients hand the SDK: its Ajv,
// made on first use and then shared. The SDK otherwise builds an Ajv instance
// (≈ 8 ms of CPU) in every Server and Client, for elicitation answers and tool
// output schemas: a node role never needs it on its usual path yet made two
// per start (the host's endpoint probe and its real connection), and the host
// made one per experiment for its client of that experiment's node.
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

let ajv: AjvJsonSchemaValidator | undefined;

export const lazySchemaValidator: jsonSchemaValidator = {
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    ajv ??= new AjvJsonSchemaValidator();
    return ajv.getValidator<T>(schema);
  },
};
