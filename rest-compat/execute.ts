import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import {
  GraphQLError,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  typeFromAST,
  Kind,
} from 'graphql';
import type { GraphQLContext } from '../schema/context.js';
import { AppError } from '../src/infra/errors/registry.js';

/** A GraphQL document compiled once and executed per REST request, as SOFA does. */
export interface PreparedOperation<TData, TVariables> {
  rootField: string;
  resultType: GraphQLOutputType;
  variableTypes: Record<string, GraphQLInputType>;
  run(context: GraphQLContext, variables: TVariables): Promise<TData>;
}

export function prepareOperation<TData, TVariables>(
  schema: GraphQLSchema,
  document: TypedDocumentNode<TData, TVariables>,
): PreparedOperation<TData, TVariables> {
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (!operation) throw new Error('rest-compat document without an operation');
  const rootType = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  const selection = operation.selectionSet.selections[0];
  if (!rootType || !selection || selection.kind !== Kind.FIELD || operation.selectionSet.selections.length !== 1) {
    throw new Error(`rest-compat document ${operation.name?.value} must select exactly one root field`);
  }
  const rootField = selection.name.value;
  const field = rootType.getFields()[rootField];
  if (!field) throw new Error(`unknown root field ${rootField}`);
  const variableTypes = Object.fromEntries(
    (operation.variableDefinitions ?? []).map((definition) => [
      definition.variable.name.value,
      typeFromAST(schema, definition.type as never) as GraphQLInputType,
    ]),
  );
  const compiled = compileQuery(schema, document as never);
  if (!isCompiledQuery(compiled)) {
    throw new Error(`cannot compile ${operation.name?.value}: ${compiled.errors?.map((e) => e.message).join('; ')}`);
  }
  const query = compiled as unknown as CompiledQuery<TData, TVariables & Record<string, unknown>>;

  return {
    rootField,
    resultType: field.type,
    variableTypes,
    async run(context, variables) {
      const result = await query.query(undefined, context, variables as TVariables & Record<string, unknown>);
      const error = result.errors?.[0];
      if (error) {
        // Errors from resolvers carry the AppError; the rest are the variables not fitting the input types
        // (a scalar refusing a value, e.g. a DateTime, is one of those too).
        if (error.originalError && !(error.originalError instanceof GraphQLError)) throw error.originalError;
        throw variableError(error.message);
      }
      return result.data as TData;
    },
  };
}

/**
 * A variable that does not fit its input type, named as a field error (graphql-js says which field in
 * its message: `… at "input.name"; …` or `Field value.events of required type … was not provided`).
 */
function variableError(message: string): AppError {
  const missing = /Field value\.([\w.]+) of required type \S+ was not provided/.exec(message);
  const located = /got invalid value .* at "\w+\.([\w.[\]]+)"; (.*)$/.exec(message);
  const fieldError = missing
    ? { field: missing[1]!, error: 'is required' }
    : located
      ? { field: located[1]!.replace(/\[(\d+)\]/g, '.$1'), error: located[2]! }
      : undefined;
  if (!fieldError) return new AppError('VALIDATION_FAILED', message);
  return new AppError('VALIDATION_FAILED', `Invalid input: ${fieldError.field}: ${fieldError.error}`, {
    context: { field_errors: [fieldError] },
    suggestion: 'Correct the validation errors and retry the request',
  });
}
